"""``POST /v1/posts`` without FastAPI's routing and dependency machinery, when it can.

Why: the platform sends one post a request, and FastAPI's per-request layers cost about
a millisecond of a one-post request's CPU, a sixth of it, where a batch of 100 posts pays
them once (issue 19's single ÷ batched ratio). This middleware (``fast_path.py``) answers
a request from an ingest, feed-service or admin key already verified by this worker and
within its rate, whose body validates: the same ``ingest`` below stores and answers it
through the same batcher, and an error it raises (429/503 backpressure, 404 unknown ids,
409 conflict) is answered by the app's own handler for it. A request without a cached key,
over its rate, of another role or with a body that does not validate is handed to the
route, so its 401/403/413/422/429 answer stays exactly the route's. Tests compare the two
paths.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from quanzi.serving.api.fast_path import FastPath, app_state, cached_principal
from quanzi.serving.api.schemas.post_ingest import (
    PostBatch,
    PostCreate,
    PostIngestRequest,
    PostIngestResponse,
)
from quanzi.serving.metrics import ServiceMetrics
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.serving.worker_batchers import WorkerBatchers

PATH = "/v1/posts"
ROLES = frozenset({"ingest", "feed-service", "admin"})
BATCH_HEADER = "X-Quanzi-Batch-Posts"  # posts committed in the same transaction
REQUEST = TypeAdapter(PostIngestRequest)


async def ingest(
    body: PostCreate | PostBatch, batchers: WorkerBatchers, metrics: ServiceMetrics
) -> tuple[PostIngestResponse, int]:
    """Store, moderate, score, embed and index the body's posts through the worker's
    ingest batcher; the answer (after its transaction committed) and the posts that
    transaction held. The route and the fast path both answer with this."""
    posts = body.posts if isinstance(body, PostBatch) else [body]
    ingested = await batchers.ingest.submit(tuple(PostInput(**p.model_dump()) for p in posts))
    models, results = ingested.models, ingested.results
    if models.index is not None:  # what this worker's index holds (lags by the sync bound)
        metrics.set_index_size(f"posts-{models.encoder_version}", len(models.index))
    replayed = sum(r["replayed"] for r in results)
    answer = PostIngestResponse.model_validate(
        {"results": results, "stored": len(results) - replayed, "replayed": replayed}
    )
    return answer, ingested.batch_posts


class IngestFastPath(FastPath):
    """ASGI middleware answering the common ``POST /v1/posts`` request itself."""

    PATH = PATH

    async def respond(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        state = app_state(scope)
        batchers = getattr(state, "batchers", None)
        metrics = getattr(state, "metrics", None)
        if batchers is None or metrics is None or cached_principal(scope, ROLES) is None:
            return False
        try:
            request = REQUEST.validate_json(body)
        except ValidationError:
            return False
        try:
            answer, batch_posts = await ingest(request, batchers, metrics)
        except Exception as exc:  # the app's handler answers it, as it would the route's
            await self.send_error(scope, receive, send, exc)
            return True
        header = (BATCH_HEADER.lower().encode(), str(batch_posts).encode())
        await self.send_json(scope, send, answer.model_dump_json().encode(), headers=[header])
        return True
