"""What the app holds for its lifetime: settings, the database engine, sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from quanzi.serving.worker_models import ModelRegistry, ModelSet
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, head_revision, session_factory


@dataclass
class AppState:
    """Per-process resources opened at startup and closed at shutdown."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    schema_head: str | None  # the migration this code expects; /readyz compares the database's
    models: ModelRegistry  # encoder, champion predictors, vector index (worker_models.py)

    @classmethod
    def open(cls, settings: Settings, metrics: Any | None = None) -> AppState:
        settings.ensure_dirs()
        engine = engine_from_settings(settings)
        models = ModelRegistry(
            settings, engine, on_swap=None if metrics is None else _gauges(metrics)
        )
        if settings.env != "test":  # tests load on first use (see worker_models)
            models.start()
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            schema_head=head_revision(),
            models=models,
        )

    def close(self) -> None:
        self.models.close()
        self.engine.dispose()


def _gauges(metrics: Any) -> Any:
    """After each model swap: model versions, index size and what is degraded on /metrics
    (and the header every response then carries)."""

    def update(models: ModelSet) -> None:
        for name, version in models.model_versions().items():
            metrics.set_model_version(name, version)
        if models.index is not None:
            metrics.set_index_size(f"posts-{models.encoder_version}", len(models.index))
        metrics.set_degraded(models.degraded_list(), models.degraded_marker())

    return update
