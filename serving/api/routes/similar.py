"""Similar posts: nearest neighbours in the FAISS index, filtered inside the search."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from quanzi.serving.api.deps import BatchersDep, FeedOrEditorKey, ModelsDep, SessionDep
from quanzi.serving.api.schemas.similar import SimilarItem, SimilarRequest, SimilarResponse
from quanzi.serving.index_search import search_similar

router = APIRouter(prefix="/v1/similar", tags=["similar"])


@router.post(
    "",
    responses={
        404: {"description": "No such post"},
        429: {"description": "The encoding queue is full: retry after `Retry-After` seconds"},
        503: {"description": "No encoder loaded, or overloaded (with `Retry-After`)"},
    },
)
async def find_similar(
    body: SimilarRequest,
    session: SessionDep,
    _: FeedOrEditorKey,
    registry: ModelsDep,
    batchers: BatchersDep,
) -> SimilarResponse:
    """Up to ``k`` posts like a stored post or a text, optionally diversified by MMR."""
    vector = None
    if body.post_id is None:  # a text: embedded in a batch with other requests' texts
        vector, models = await batchers.embed.submit(body.text or "")
    else:
        models = await run_in_threadpool(registry.current)
    hits = await run_in_threadpool(
        search_similar,
        session,
        models,
        post_id=body.post_id,
        text=body.text,
        k=body.k,
        circle_id=body.circle_id,
        min_quality=body.min_quality,
        statuses=body.statuses,
        exclude_ids=body.exclude_ids,
        diversity=body.diversity,
        vector=vector,
    )
    return SimilarResponse(
        items=[SimilarItem(**asdict(h)) for h in hits], encoder_version=str(models.encoder_version)
    )
