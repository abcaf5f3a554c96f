"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy.exc import SQLAlchemyError

from quanzi.serving.api.deps import StateDep
from quanzi.storage.db import current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or schema missing"}})
def read_readiness(state: StateDep) -> dict[str, object]:
    """The process can serve: the database answers and its schema is at this code's revision."""
    try:
        revision = current_revision(state.engine)
    except SQLAlchemyError as exc:  # the probe reports, it never raises a traceback
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise HTTPException(503, detail=f"database unreachable: {reason}") from exc
    if revision is None:
        raise HTTPException(503, detail="database schema missing: run `quanzi db upgrade`")
    if revision != state.schema_head:
        raise HTTPException(
            503, detail=f"database schema at revision {revision}, this code needs "
                        f"{state.schema_head}: run `quanzi db upgrade`"
        )
    return {"status": "ready", "database": state.engine.dialect.name, "revision": revision}
