"""What the app holds for its lifetime: settings, the database engine, sessions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, head_revision, session_factory


@dataclass
class AppState:
    """Per-process resources opened at startup and closed at shutdown."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    schema_head: str | None  # the migration this code expects; /readyz compares the database's

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        settings.ensure_dirs()
        engine = engine_from_settings(settings)
        return cls(settings=settings, engine=engine, sessions=session_factory(engine),
                   schema_head=head_revision())

    def close(self) -> None:
        self.engine.dispose()
