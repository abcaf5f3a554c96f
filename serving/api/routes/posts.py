"""Posts: ingest (store, moderate, score, embed, index) and read one post with its scores."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from quanzi.serving.api.deps import (
    READ_ROLES,
    BatchersDep,
    IngestKey,
    MetricsDep,
    SessionDep,
)
from quanzi.serving.api.ingest_fast_path import BATCH_HEADER, ingest
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.post_ingest import PostIngestRequest, PostIngestResponse
from quanzi.serving.api.schemas.posts import PostPublic
from quanzi.storage import queries

router = APIRouter(prefix="/v1/posts", tags=["posts"], dependencies=[READ_ROLES])


@router.get("/{post_id}", responses={404: {"description": "No such post"}})
def read_post(post_id: ResourceId, session: SessionDep) -> PostPublic:
    """One post, whether it is a verified purchase, and each model's latest score."""
    detail = queries.get_post(session, post_id)
    if detail is None:
        raise HTTPException(404, detail=f"post {post_id!r} not found")
    return PostPublic.from_detail(detail)


@router.post(
    "",
    responses={
        404: {"description": "Unknown circles, authors, items or orders (listed)"},
        409: {"description": "A post id reused for other content"},
        429: {"description": "The ingest queue is full: retry after `Retry-After` seconds"},
        503: {
            "description": "Overloaded, or the store did not commit: nothing was stored; "
            "retry after `Retry-After` seconds (idempotent by id)"
        },
    },
)
async def create_posts(
    body: PostIngestRequest,
    response: Response,
    _: IngestKey,
    batchers: BatchersDep,
    metrics: MetricsDep,
) -> PostIngestResponse:
    """Store, moderate, score, embed and index one post or up to 500 (idempotent by id).

    Concurrent requests are gathered into one batch and one transaction; the answer comes
    after that transaction commits, so an acknowledged post is in the store. The common
    request is answered before it reaches here, the same way (``ingest_fast_path.py``)."""
    answer, batch_posts = await ingest(body, batchers, metrics)
    response.headers[BATCH_HEADER] = str(batch_posts)  # for benches and debugging
    return answer
