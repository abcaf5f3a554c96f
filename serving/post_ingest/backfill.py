"""Backfill: the ingest steps for stored posts still ``pending`` (``quanzi posts backfill``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from quanzi.serving.post_ingest.batch import process
from quanzi.serving.post_ingest.persistence import PostInput
from quanzi.serving.recent_vectors import RecentVectors
from quanzi.serving.worker_models import ModelSet
from quanzi.storage.db import session_scope
from quanzi.storage.orm import Post


def backfill_pending(
    sessions: Any, models: ModelSet, batch: int = 256, progress: Callable[[int], None] | None = None
) -> int:
    """Moderate, score, embed and index stored posts still ``pending`` (e.g. a loaded world),
    oldest first, one transaction per batch; returns how many were processed.

    Oldest first, so of two copies the earlier post is the original; this worker's recent
    buffer holds every vector of the run, so copies are caught before the index syncs.
    """
    # This run's own buffer, unbounded in time: every vector of the run stays searchable.
    models = replace(models, recent=RecentVectors(seconds=float("inf"), cap=10**7))
    with sessions() as session:
        ids = list(
            session.scalars(
                select(Post.id).where(Post.status == "pending").order_by(Post.created_at, Post.id)
            )
        )
    done = 0
    for start in range(0, len(ids), batch):
        processed = None
        with session_scope(sessions) as session:
            rows = session.scalars(
                select(Post)
                .where(Post.id.in_(ids[start : start + batch]))
                .order_by(Post.created_at, Post.id)
            ).all()
            posts = [PostInput.of(p) for p in rows if p.status == "pending"]
            if posts:
                processed = process(session, models, posts, stored=True)
        if processed is not None:  # committed: the run's later batches see these vectors
            processed.remember(models)
        done += len(posts)
        if progress is not None:
            progress(len(posts))
    return done
