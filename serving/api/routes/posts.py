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
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.post_ingest import PostBatch, PostIngestRequest, PostIngestResponse
from quanzi.serving.api.schemas.posts import PostPublic
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.storage import queries

BATCH_HEADER = "X-Quanzi-Batch-Posts"  # posts committed in the same transaction
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
    after that transaction commits, so an acknowledged post is in the store."""
    posts = body.posts if isinstance(body, PostBatch) else [body]
    ingested = await batchers.ingest.submit(tuple(PostInput(**p.model_dump()) for p in posts))
    models, results = ingested.models, ingested.results
    response.headers[BATCH_HEADER] = str(ingested.batch_posts)  # for benches and debugging
    if models.index is not None:  # what this worker's index holds (lags by the sync bound)
        metrics.set_index_size(f"posts-{models.encoder_version}", len(models.index))
    replayed = sum(r["replayed"] for r in results)
    return PostIngestResponse.model_validate(
        {"results": results, "stored": len(results) - replayed, "replayed": replayed}
    )
