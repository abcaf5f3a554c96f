"""``POST /v1/feed/rank`` without FastAPI's routing and dependency machinery, when it can.

Why: the feed service calls this route on every feed request, and FastAPI's per-request
layers (routing over every route, dependency resolution, parameter validation, response
wrapping) cost about as much CPU as the ranking itself. This ASGI middleware answers the
common case directly: a known feed-service (or admin) key already verified by this worker
and within its rate limit, a body that validates, a viewer whose context is cached, a known
circle. Anything else — no or unknown key, over its rate, wrong role, invalid body, a
viewer-context miss, an unknown circle — is handed, body and all, to the FastAPI route, so
every error answer (401/403/404/422/429) and every slow path stays exactly the route's.
The route also keeps the OpenAPI description.

The answer is the route's: the same ``FeedService.rank`` builds it and the same request
schema validates it (``FeedRankRequest.model_validate_json``, pydantic's own JSON parser);
tests compare the two paths.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from quanzi.serving.api.fast_path import FastPath, app_state, cached_principal
from quanzi.serving.api.schemas.feed import FeedRankRequest
from quanzi.serving.feed_service import FeedRequest, UnknownCircle

PATH = "/v1/feed/rank"
ROLES = frozenset({"feed-service", "admin"})


def feed_request(body: FeedRankRequest) -> FeedRequest:
    """The service's request from the validated schema (shared with the route)."""
    return FeedRequest(
        viewer_id=body.viewer_id,
        circle_id=body.circle_id,
        limit=body.limit,
        candidate_ids=None if body.candidate_ids is None else tuple(body.candidate_ids),
        phase=body.phase,
        exclude_seen=body.exclude_seen,
        exclude_ids=frozenset(body.exclude_ids),
        params=body.params,
        as_of=body.as_of,
        topic_id=body.topic_id,
    )


class FeedFastPath(FastPath):
    """ASGI middleware answering the common ``/v1/feed/rank`` request itself."""

    PATH = PATH

    async def respond(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        payload = self._answer(scope, body)
        if payload is None:
            return False
        await self.send_json(scope, send, payload)
        return True

    def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The response body, or None when the route must answer."""
        feed = getattr(app_state(scope), "feed", None)
        if feed is None or cached_principal(scope, ROLES) is None:
            return None
        try:
            request = feed_request(FeedRankRequest.model_validate_json(body))
        except ValidationError:
            return None
        scope = feed.scopes.peek(request.circle_id)
        if request.topic_id is not None or scope is None or scope.kind != "brand":
            return None  # topic filters and other kinds read the database: the route's job
        viewer = feed.cached_viewer(request)
        if viewer is None:
            return None
        try:
            payload, _ = feed.rank(request, viewer)
        except UnknownCircle:
            return None
        return orjson.dumps(payload)
