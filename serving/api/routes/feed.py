"""Feed ranking: the circle-feed service asks for one viewer's ranked posts.

The handler is ``async`` and ranks on the event loop: ranking is a few milliseconds of
CPU-bound numpy under the GIL, so a thread would add a handoff and GIL contention per
request without adding parallelism (the workers are the parallelism). What may wait on the
database — the first snapshot load and a viewer-context cache miss — runs in a thread.
The common request does not even reach this handler: ``feed_fast_path`` answers it with the
same service and schema, and hands everything else (errors included) to this route.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, HTTPException, Response
from fastapi.concurrency import run_in_threadpool

from quanzi.serving.api.deps import FeedKey, FeedServiceDep
from quanzi.serving.api.feed_fast_path import feed_request
from quanzi.serving.api.schemas.feed import FeedRankRequest, FeedRankResponse
from quanzi.serving.feed_service import UnknownCircle

router = APIRouter(prefix="/v1/feed", tags=["feed"])


@router.post(
    "/rank", response_model=FeedRankResponse, responses={404: {"description": "Unknown circle"}}
)
async def rank_feed(body: FeedRankRequest, feed: FeedServiceDep, _: FeedKey) -> Response:
    """Rank posts for one viewer in one circle, saying why each ranked and at which trust level."""
    request = feed_request(body)
    viewer = feed.cached_viewer(request)
    if viewer is None:
        viewer = await run_in_threadpool(feed.load_viewer, request)
    try:
        payload, _result = feed.rank(request, viewer)
    except UnknownCircle as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    # Built by the service already: skip re-validating the response model (hot path).
    return Response(orjson.dumps(payload), media_type="application/json")
