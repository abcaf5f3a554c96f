"""Typed dependency aliases: handlers reach settings, the database and the caller only here.

Dependencies that never block are ``async def``: FastAPI runs a sync dependency in its
thread pool, and each such hop costs a thread handoff and GIL contention on every request
(measurable on the feed's hot path). Only those that touch the database run in threads.

Auth: every ``/v1`` route declares the roles it admits with one of the key aliases
(``FeedKey``, ``IngestKey``, ``EditorKey``, ``AdminKey``, ``ReadKey``) or
``require_role``; an admin key passes every check. No key or an unknown/revoked key is
401 (with ``WWW-Authenticate``); a valid key of the wrong role is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from quanzi.serving.api.errors import ApiError
from quanzi.serving.editorial.suggestion_neighbours import SimilarPosts, stored_score_similarity
from quanzi.serving.feed_service import FeedService
from quanzi.serving.metrics import ServiceMetrics
from quanzi.serving.rate_limits import retry_after
from quanzi.serving.state import AppState
from quanzi.serving.worker_batchers import WorkerBatchers
from quanzi.serving.worker_models import ModelRegistry
from quanzi.settings import Settings
from quanzi.storage.api_keys import ROLES, KeyRing, Principal, Role
from quanzi.storage.db import session_scope


async def get_state(request: Request) -> AppState:
    """The lifespan-owned state of this app."""
    return request.app.state.quanzi


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """One session per request; rolled back on error so a failed request writes nothing.
    Scoped to the handler (``SessionDep``), so the commit happens before the answer is sent:
    a 2xx/303 means stored, and the client's next read sees it."""
    with session_scope(state.sessions) as session:
        yield session


async def get_models(state: Annotated[AppState, Depends(get_state)]) -> ModelRegistry:
    """The worker's model registry. Call ``.current()`` once in the handler, after the
    request is validated (a dependency would load models even for a request FastAPI then
    refuses), and use that one set throughout: a reload never mixes two generations."""
    return state.models


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ModelsDep = Annotated[ModelRegistry, Depends(get_models)]


# --- auth -------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The API key in `X-API-Key` (alternative)"
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _keyring(request: Request) -> KeyRing:
    """The app's key cache, made on first use (one per app, so tests never share one)."""
    ring = getattr(request.app.state, "keyring", None)
    if ring is None:
        ring = request.app.state.keyring = KeyRing()
    return ring


async def authenticate(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    """The caller behind the request's API key; 401 when there is none or it is not valid."""
    key = bearer.credentials if bearer is not None else header_key
    if not key:
        raise HTTPException(
            401,
            detail="missing API key: send `Authorization: Bearer <key>` "
            "or `X-API-Key: <key>` (`quanzi keys create`)",
            headers=_CHALLENGE,
        )
    ring = _keyring(request)
    try:
        principal = ring.cached(key)
        if principal is None:  # a miss reads the database: off the event loop
            principal = await run_in_threadpool(ring.verify, state.sessions, key)
    except SQLAlchemyError as exc:
        raise HTTPException(
            503, detail="cannot check the API key: database unavailable (run `quanzi db upgrade`?)"
        ) from exc
    if principal is None:
        raise HTTPException(401, detail="unknown or revoked API key", headers=_CHALLENGE)
    check_rate(request, principal)
    return principal


def check_rate(request: Request, principal: Principal) -> None:
    """429 with ``Retry-After`` when the key is over its role's rate (``rate_limits.py``)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    wait = None if limiter is None else limiter.take(principal.key_id, principal.role)
    if wait is not None:
        rate = limiter.rates.get(principal.role, 0.0)
        raise ApiError(
            429,
            f"rate limit exceeded: a {principal.role} key may make {rate:g} requests/s "
            f"to each worker; retry after {retry_after(wait)} s",
            "rate_limited",
            headers={"Retry-After": retry_after(wait)},
        )


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting keys of ``roles`` (and admin); its ``roles`` attribute lists them."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")
    allowed = frozenset(roles) | {"admin"}
    wanted = " or ".join(r for r in ROLES if r in allowed)

    async def check_role(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                403,
                detail=f"this route needs a key with role {wanted}; "
                f"this key has role {principal.role!r}",
            )
        return principal

    check_role.roles = allowed  # type: ignore[attr-defined]  # read by the route audit test
    return check_role


ReadKey = Annotated[Principal, Depends(require_role(*ROLES))]  # any valid key
FeedKey = Annotated[Principal, Depends(require_role("feed-service"))]
IngestKey = Annotated[Principal, Depends(require_role("ingest", "feed-service"))]
EditorKey = Annotated[Principal, Depends(require_role("editor"))]
AdminKey = Annotated[Principal, Depends(require_role("admin"))]
FeedOrEditorKey = Annotated[Principal, Depends(require_role("feed-service", "editor"))]
# A circle's own rules: editors and admins, or the brand-manager key of that circle (the
# handler checks the circle: ``require_own_circle``).
RulesKey = Annotated[Principal, Depends(require_role("editor", "brand-manager"))]


def require_own_circle(principal: Principal, circle_id: str) -> None:
    """403 unless a brand-manager key is acting on its own circle (others pass)."""
    if principal.role == "brand-manager" and principal.circle_id != circle_id:
        raise HTTPException(
            403,
            detail=f"this brand-manager key manages circle {principal.circle_id!r}, "
            f"not {circle_id!r}",
        )


# For a whole read-only router: ``APIRouter(..., dependencies=[READ_ROLES])``.
READ_ROLES = Depends(require_role(*ROLES))


# --- editorial services -----------------------------------------------------------------


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's Prometheus metrics (made in ``create_app``)."""
    return request.app.state.metrics


async def get_similar(request: Request) -> SimilarPosts:
    """Similar-post search for collection suggestions.

    Set ``app.state.similar_posts`` (e.g. to the FAISS-backed search) to replace the
    in-process fallback, which ranks stored posts by quality and text overlap.
    """
    return getattr(request.app.state, "similar_posts", None) or stored_score_similarity


async def get_batchers(request: Request) -> WorkerBatchers:
    """The worker's dynamic batchers (ingest, moderation, text encoding), lifespan-owned."""
    return request.app.state.batchers


async def get_feed_service(request: Request) -> FeedService:
    """The worker's feed-ranking service: snapshot store, viewer loader, pipeline."""
    return request.app.state.feed


MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
FeedServiceDep = Annotated[FeedService, Depends(get_feed_service)]
SimilarDep = Annotated[SimilarPosts, Depends(get_similar)]
BatchersDep = Annotated[WorkerBatchers, Depends(get_batchers)]
