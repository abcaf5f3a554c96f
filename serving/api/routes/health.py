"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from quanzi.serving.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def read_readiness(state: StateDep) -> dict[str, object]:
    """The process can serve: the database answers and its schema is in place."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM circles LIMIT 1"))
    except Exception as exc:  # the probe reports, it never raises a traceback
        raise HTTPException(503, detail=f"database not ready: {exc.__class__.__name__}") from exc
    return {"status": "ready", "database": state.engine.dialect.name}
