"""Typed dependency aliases: handlers reach settings and the database only through these."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from quanzi.serving.state import AppState
from quanzi.settings import Settings


def get_state(request: Request) -> AppState:
    """The lifespan-owned state of this app."""
    return request.app.state.quanzi


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """One session per request; rolled back on error so a failed request writes nothing."""
    session = state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
