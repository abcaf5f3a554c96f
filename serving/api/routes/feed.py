"""Feed ranking: the circle-feed service asks for one viewer's ranked posts.

The handler is ``async`` and ranks on the event loop: ranking is a few milliseconds of
CPU-bound numpy under the GIL, so a thread would add a handoff and GIL contention per
request without adding parallelism (the workers are the parallelism). What may wait on the
database — the first snapshot load and a viewer-context cache miss — runs in a thread.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from quanzi.serving.api.deps import FeedKey, FeedServiceDep
from quanzi.serving.api.schemas.feed import FeedRankRequest, FeedRankResponse
from quanzi.serving.feed_store import FeedRequest, UnknownCircle

router = APIRouter(prefix="/v1/feed", tags=["feed"])


@router.post("/rank", response_model=FeedRankResponse,
             responses={404: {"description": "Unknown circle"}})
async def rank_feed(body: FeedRankRequest, feed: FeedServiceDep, _: FeedKey) -> Response:
    """Rank posts for one viewer in one circle, saying why each ranked and at which trust level."""
    request = FeedRequest(
        viewer_id=body.viewer_id, circle_id=body.circle_id, limit=body.limit,
        candidate_ids=None if body.candidate_ids is None else tuple(body.candidate_ids),
        phase=body.phase, exclude_seen=body.exclude_seen,
        exclude_ids=frozenset(body.exclude_ids), params=body.params, as_of=body.as_of)
    viewer = feed.cached_viewer(request)
    if viewer is None:
        viewer = await run_in_threadpool(feed.load_viewer, request)
    try:
        payload, _result = feed.rank(request, viewer)
    except UnknownCircle as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    # Built by the service already: skip re-validating the response model (hot path).
    return Response(orjson.dumps(payload), media_type="application/json")
