"""The dynamic batchers one worker runs: ingest (group commit), moderation, text encoding.

Three queues of the same ``DynamicBatcher``, not one: an ingest batch ends in a commit, and
a ``/v1/moderate`` or ``/v1/similar`` request must not wait behind another worker's write
lock. Each batch takes the worker's model set once (``registry.current()``), so a reload
never mixes two generations inside a batch, and each answer names the set that made it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from quanzi.models.index import configure_threads
from quanzi.serving.batching import BatchObserver, DynamicBatcher
from quanzi.serving.editorial.errors import NotFound
from quanzi.serving.index_search import require_index
from quanzi.serving.post_ingest.decision import RuleLookup, moderate
from quanzi.serving.post_ingest.group_commit import (
    GroupCommit,
    Ingested,
    IngestRequest,
    posts_weight,
)
from quanzi.serving.worker_models import ModelRegistry, ModelSet
from quanzi.settings import Settings
from quanzi.storage.orm import Circle

Moderated = tuple[dict[str, Any], ModelSet]
Embedded = tuple[np.ndarray, ModelSet]


def ingest_writers(settings: Settings, engine: Engine) -> int:
    """Ingest transactions in flight: the setting, else 1 on SQLite and 2 elsewhere."""
    if settings.ingest_writers is not None:
        return settings.ingest_writers
    return 1 if engine.dialect.name == "sqlite" else 2


class ModerateBatch:
    """Handler of the moderation batcher: one model call for the texts of many requests."""

    def __init__(self, sessions: sessionmaker[Session], registry: ModelRegistry) -> None:
        self.sessions = sessions
        self.registry = registry

    def __call__(self, records: list[dict[str, Any]]) -> list[Moderated | BaseException]:
        models = self.registry.current()
        with self.sessions() as session:  # circle rules, read once per circle per batch
            asked = {r["circle_id"] for r in records if r.get("circle_id")}
            known = set(session.scalars(select(Circle.id).where(Circle.id.in_(sorted(asked)))))
            fine = [r for r in records if not r.get("circle_id") or r["circle_id"] in known]
            results = iter(moderate(models, fine, RuleLookup(session, known)) if fine else [])
        return [
            (next(results), models)
            if not r.get("circle_id") or r["circle_id"] in known
            else NotFound(f"unknown circle {r['circle_id']!r}: omit circle_id or use a stored one")
            for r in records
        ]


class EmbedBatch:
    """Handler of the encoding batcher (``/v1/similar`` by text): one encoder pass."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def __call__(self, texts: list[str]) -> list[Embedded | BaseException]:
        models = self.registry.current()
        try:
            require_index(models)
        except Exception as exc:  # no encoder: every text gets the same 503
            return [exc] * len(texts)
        vectors = np.asarray(models.embedder(texts), dtype=np.float32)  # type: ignore[misc]
        return [(vector, models) for vector in vectors]


class WorkerBatchers:
    """The three batchers of a worker, started and closed with the app's lifespan."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        registry: ModelRegistry,
        observer: BatchObserver | None = None,
    ) -> None:
        # FAISS's OpenMP thread count is per thread: set where the handlers search. Left at
        # the default (every core), a search of a small batch (< 20 queries, below FAISS's
        # BLAS path) woke a team of spinning OpenMP threads: 2.5 ms CPU per one-post request.
        setup = partial(configure_threads, settings)
        models_options: dict[str, Any] = {
            "max_batch": settings.model_batch_max_texts,
            "max_delay_s": settings.model_batch_max_delay_ms / 1000,
            "max_queue": settings.model_queue_max_texts,
            "max_wait_s": settings.ingest_queue_max_wait_s,
            "observer": observer,
            "thread_setup": setup,
        }
        self.ingest: DynamicBatcher[IngestRequest, Ingested] = DynamicBatcher(
            "ingest",
            GroupCommit(sessions, registry),
            max_batch=settings.ingest_batch_max_posts,
            max_delay_s=settings.ingest_batch_max_delay_ms / 1000,
            max_queue=settings.ingest_queue_max_posts,
            max_wait_s=settings.ingest_queue_max_wait_s,
            concurrency=ingest_writers(settings, engine),
            weight=posts_weight,
            observer=observer,
            thread_setup=setup,
        )
        self.moderate: DynamicBatcher[dict[str, Any], Moderated] = DynamicBatcher(
            "moderate", ModerateBatch(sessions, registry), **models_options
        )
        self.embed: DynamicBatcher[str, Embedded] = DynamicBatcher(
            "embed", EmbedBatch(registry), **models_options
        )

    def start(self) -> None:
        for batcher in (self.ingest, self.moderate, self.embed):
            batcher.start()

    async def close(self) -> None:
        for batcher in (self.ingest, self.moderate, self.embed):
            await batcher.close()
