"""Liveness and readiness probes."""

from __future__ import annotations

import os

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from quanzi.serving.api.deps import StateDep
from quanzi.serving.state import AppState
from quanzi.storage.db import current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {"description": "Database unreachable, schema missing or models still loading"}
    },
)
def read_readiness(state: StateDep, request: Request) -> dict[str, object]:
    """The process can serve: the database answers, its schema is at this code's revision,
    the models are loaded (``mode`` full or degraded; each degraded model in ``degraded``
    with what serves instead, still 200), and so is the feed-ranking snapshot."""
    try:
        revision = current_revision(state.engine)
    except SQLAlchemyError as exc:  # the probe reports, it never raises a traceback
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise HTTPException(503, detail=f"database unreachable: {reason}") from exc
    if revision is None:
        raise HTTPException(503, detail="database schema missing: run `quanzi db upgrade`")
    if revision != state.schema_head:
        raise HTTPException(
            503,
            detail=f"database schema at revision {revision}, this code needs "
            f"{state.schema_head}: run `quanzi db upgrade`",
        )
    ready: dict[str, object] = {
        "status": "ready",
        "database": state.engine.dialect.name,
        "revision": revision,
        "worker": os.getpid(),  # which worker answered (a bench waits for every one)
    }
    ready |= models_readiness(state)
    feed = getattr(request.app.state, "feed", None)
    if feed is not None and feed.loading:
        raise HTTPException(
            503, detail="the feed-ranking snapshot is loading: retry in a few seconds"
        )
    ranker = getattr(state.models.peek(), "ranker", None)  # the learned scorer's model
    ready["feed"] = {
        "snapshot": "loaded" if feed is not None and feed.ready else "loaded on first use",
        "error": getattr(feed, "load_error", None),
        "ranker": f"learned-v{getattr(ranker, 'version', '?')}"
        if ranker is not None
        else "weighted-v1 (no quanzi-ranker champion)",
    }
    return ready


def models_readiness(state: AppState) -> dict[str, object]:
    """Model versions in force and what is degraded: each such model with why and what
    serves instead (its last good version, the rule detectors, or nothing); ``mode`` is
    ``full`` or ``degraded``. A degraded service is still ready (200): it serves."""
    models = state.models.peek()
    if models is None:
        if state.models.status.state == "running":
            raise HTTPException(503, detail="models are loading: retry in a few seconds")
        return {"models": "not loaded yet (loaded on first use)", "degraded": [], "mode": "full"}
    degraded = models.degraded_list()
    return {
        "models": models.model_versions(),
        "mode": "degraded" if degraded else "full",
        "degraded": degraded,
    }
