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

from types import SimpleNamespace

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.serving.api.schemas.feed import FeedRankRequest
from quanzi.serving.feed_service import FeedRequest, UnknownCircle

PATH = "/v1/feed/rank"
MAX_BODY = 1 << 20  # larger bodies go to the route (and its limits)
ROLES = frozenset({"feed-service", "admin"})
_ROUTE = SimpleNamespace(path=PATH)  # what the metrics middleware reads of a matched route


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


def _api_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                return credentials.strip()
        elif name == b"x-api-key":
            return value.decode("latin-1").strip() or None
    return None


class FeedFastPath:
    """ASGI middleware answering the common ``/v1/feed/rank`` request itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay(chunks, message, receive), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > MAX_BODY and more:
                break
        body = b"".join(chunks)
        payload = None if more else self._answer(scope, body)
        if payload is None:
            await self.app(scope, _replay([body], None if not more else {}, receive), send)
            return
        scope["route"] = _ROUTE  # the metrics middleware labels by the route's template
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The response body, or None when the route must answer."""
        app = scope.get("app")
        state = getattr(app, "state", None)
        feed = getattr(state, "feed", None)
        ring = getattr(state, "keyring", None)
        key = _api_key(scope)
        if feed is None or ring is None or key is None:
            return None
        principal = ring.cached(key)
        if principal is None or principal.role not in ROLES:
            return None
        limiter = getattr(state, "rate_limiter", None)
        if limiter is not None and limiter.take(principal.key_id, principal.role) is not None:
            return None  # over its rate: the route answers 429 with Retry-After
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


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that first gives back what was read, then reads on."""
    messages: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": pending == {}}
    ]
    if pending:
        messages.append(pending)

    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed
