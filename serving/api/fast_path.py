"""Hot routes answered below FastAPI's routing and dependency machinery, when they can.

Why: the feed service calls ``POST /v1/feed/rank`` on every feed request and the platform
calls ``POST /v1/posts`` once per published post, and FastAPI's per-request layers
(routing over every route, dependency resolution, parameter validation, response
validation and wrapping) cost as much CPU as ranking a feed, and about a millisecond a
one-post ingest request. A ``FastPath`` middleware reads the body of its route's requests
and lets ``respond`` answer the common case; anything it declines is handed, body and all,
to the FastAPI route, so every declined request's answer stays exactly the route's (the
feed's and ingest's modules say what they decline). The route also keeps the OpenAPI
description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from quanzi.serving.api.body_limits import read_body, replay
from quanzi.storage.api_keys import Principal

MAX_BODY = 1 << 20  # larger bodies go to the route (and its limits)
Handler = Callable[[Request, Exception], Awaitable[Any]]


class FastPath:
    """ASGI middleware: ``respond`` answers a ``METHOD PATH`` request or declines it."""

    PATH = ""
    METHOD = "POST"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route = SimpleNamespace(path=self.PATH)  # what the metrics middleware reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.PATH
            or scope["method"] != self.METHOD
            or not json_content(scope)  # the route answers other bodies (its 422)
        ):
            await self.app(scope, receive, send)
            return
        body, gone, more = await read_body(receive, MAX_BODY)
        if gone is not None:  # the client went away: let the app see it
            await self.app(scope, replay(body, receive, gone), send)
        elif more or len(body) > MAX_BODY or not await self.respond(scope, body, receive, send):
            await self.app(scope, replay(body, receive, more=more), send)

    async def respond(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        """Answer the request (True) or decline it (False: the route answers)."""
        raise NotImplementedError

    async def send_json(
        self,
        scope: Scope,
        send: Send,
        payload: bytes,
        status: int = 200,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """Send ``payload`` as the JSON answer, counted under the route's template."""
        scope["route"] = self._route
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def send_error(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer ``exc`` with the app's own exception handler, as the route's would be;
        an exception without one propagates (a 500, as from the route)."""
        handler = exception_handler(scope.get("app"), exc)
        if handler is None:
            raise exc
        scope["route"] = self._route
        response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)


def app_state(scope: Scope) -> Any:
    """The app's ``state`` (None before the app set it, e.g. outside a Starlette app)."""
    return getattr(scope.get("app"), "state", None)


def cached_principal(scope: Scope, roles: Collection[str]) -> Principal | None:
    """The caller, when its key is of ``roles``, already verified by this worker and within
    its rate; None sends the request to the route (which answers 401/403/429 itself)."""
    state = app_state(scope)
    ring = getattr(state, "keyring", None)
    key = api_key(scope)
    if ring is None or key is None:
        return None
    principal = ring.cached(key)
    if principal is None or principal.role not in roles:
        return None
    limiter = getattr(state, "rate_limiter", None)
    if limiter is not None and limiter.take(principal.key_id, principal.role) is not None:
        return None  # over its rate: the route answers 429 with Retry-After
    return principal


def api_key(scope: Scope) -> str | None:
    """The request's API key (``Authorization: Bearer`` or ``X-API-Key``), if any."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                return credentials.strip()
        elif name == b"x-api-key":
            return value.decode("latin-1").strip() or None
    return None


def json_content(scope: Scope) -> bool:
    """Whether the request says its body is JSON, as FastAPI reads it (``application/json``
    or ``application/…+json``; no content type is not JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.decode("latin-1").partition(";")[0].strip().lower()
            return kind == "application/json" or (
                kind.startswith("application/") and kind.endswith("+json")
            )
    return False


def exception_handler(app: Any, exc: Exception) -> Handler | None:
    """The handler the app registered for ``exc``'s class or its nearest base."""
    handlers = getattr(app, "exception_handlers", None) or {}
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
