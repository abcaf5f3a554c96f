"""Loads a viewer's context for ranking: friends, history, negative feedback, interest vector.

Why a cache: the feed service asks for the same viewer's feed several times a minute (each
scroll), and the viewer's graph and history change slowly, so a per-viewer cache with a
short TTL (``QUANZI_FEED_VIEWER_CACHE_TTL_S``, default 30 s) keeps SQL off most requests.
The feed service passes what it just showed as ``exclude_ids``, so a TTL-stale "seen" set
never re-serves a post within a session.

What the context holds (``ViewerContext``):
- friends: ``user_relations`` of kind ``friend`` (stored in both directions); follows: the
  accounts the viewer follows (kind ``follow``, one direction), read by the same query;
- seen posts: the viewer's impressions in the last ``lookback_days``;
- negative posts: posts the viewer hid or reported; negative authors: their authors
  (down-weighted); blocked authors: authors of posts the viewer *reported* (filtered);
- engaged posts: positive actions (click, like, favourite, comment, share), newest first;
  interest = normalised mean of their embeddings (None when none have one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np
from cachetools import TTLCache
from sqlalchemy import Engine, bindparam, select

from quanzi.serving.ranking.query import ViewerContext
from quanzi.storage.orm import Interaction, Post, UserRelation

POSITIVE_KINDS = frozenset({"click", "like", "favourite", "comment", "share"})
HIDE_KINDS = frozenset({"hide", "report"})
BLOCK_KINDS = frozenset({"report"})


class VectorSource(Protocol):
    """What the loader needs from the feed store: the embeddings of engaged posts."""

    def vectors_of(self, post_ids: list[str]) -> np.ndarray: ...


def interest_vector(vectors: np.ndarray) -> np.ndarray | None:
    """Unit mean of the engaged posts' embeddings, ``(d,)``; None without any."""
    if vectors.ndim != 2 or len(vectors) == 0 or vectors.shape[1] == 0:
        return None
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return None if norm == 0 or not np.isfinite(norm) else (mean / norm).astype(np.float32)


def build_viewer_context(viewer_id: str, friends: Iterable[str],
                         history: Iterable[tuple[str, str, str]], vectors: VectorSource,
                         max_engaged: int = 50, follows: Iterable[str] = ()) -> ViewerContext:
    """A context from the viewer's friends, follows and history ``(post_id, kind,
    author_id)``, newest first. Shared by the service's SQL loader and the offline
    evaluation (and the learned ranker's training), so the three see the same context."""
    seen: set[str] = set()
    negative: set[str] = set()
    negative_authors: set[str] = set()
    blocked: set[str] = set()
    engaged: dict[str, None] = {}
    for post_id, kind, author_id in history:
        if kind == "impression":
            seen.add(post_id)
        elif kind in POSITIVE_KINDS and len(engaged) < max_engaged:
            engaged.setdefault(post_id)
        if kind in HIDE_KINDS:
            negative.add(post_id)
            negative_authors.add(author_id)
            if kind in BLOCK_KINDS:
                blocked.add(author_id)
    engaged_ids = [p for p in engaged if p not in negative]
    interest = interest_vector(vectors.vectors_of(engaged_ids)) if engaged_ids else None
    return ViewerContext(
        viewer_id=viewer_id, friends=frozenset(friends) - {viewer_id},
        follows=frozenset(follows) - {viewer_id},
        seen_posts=frozenset(seen), negative_posts=frozenset(negative),
        negative_authors=frozenset(negative_authors), blocked_authors=frozenset(blocked),
        engaged_posts=tuple(engaged_ids), interest=interest,
    )


@dataclass
class ViewerLoader:
    """Viewer contexts from the database, cached per viewer for ``ttl_s`` seconds."""

    engine: Engine
    ttl_s: float = 30.0
    max_viewers: int = 50_000
    lookback_days: float = 30.0
    max_history: int = 5_000  # newest interactions read per viewer
    max_engaged: int = 50
    _cache: TTLCache[tuple[str, datetime | None], ViewerContext] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._cache = TTLCache(maxsize=self.max_viewers, ttl=self.ttl_s)
        # Built once: SQLAlchemy then reuses the compiled form (statement construction
        # otherwise costs as much as the query itself).
        viewer, since, until = bindparam("viewer"), bindparam("since"), bindparam("until")
        self._relations_stmt = select(UserRelation.other_id, UserRelation.kind).where(
            UserRelation.user_id == viewer, UserRelation.kind.in_(("friend", "follow")))
        self._history_stmt = (
            select(Interaction.post_id, Interaction.kind, Post.author_id)
            .join(Post, Post.id == Interaction.post_id)
            .where(Interaction.user_id == viewer, Interaction.created_at >= since,
                   Interaction.created_at <= until)
            .order_by(Interaction.created_at.desc(), Interaction.id.desc())
            .limit(self.max_history))

    def load(self, viewer_id: str, vectors: VectorSource,
             as_of: datetime | None = None) -> ViewerContext:
        """The viewer's context now, or as of a past time (replays), cached per both.

        An unknown viewer gets an empty context: ranking then works from post features
        alone (cold start).
        """
        key = (viewer_id, as_of)
        if self.ttl_s > 0:
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
        context = self._read(viewer_id, vectors, as_of or datetime.now(UTC))
        if self.ttl_s > 0:
            with self._lock:
                self._cache[key] = context
        return context

    def invalidate(self, viewer_id: str | None = None) -> None:
        """Drop one viewer's cached context (or all)."""
        with self._lock:
            if viewer_id is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if k[0] == viewer_id]:
                    self._cache.pop(key, None)

    def _read(self, viewer_id: str, vectors: VectorSource, now: datetime) -> ViewerContext:
        since = now - timedelta(days=self.lookback_days)
        with self.engine.connect() as conn:
            relations = conn.execute(self._relations_stmt, {"viewer": viewer_id}).all()
            history = conn.execute(self._history_stmt, {"viewer": viewer_id, "since": since,
                                                        "until": now}).all()
        friends = [other for other, kind in relations if kind == "friend"]
        follows = [other for other, kind in relations if kind == "follow"]
        return build_viewer_context(viewer_id, friends, history, vectors, self.max_engaged,
                                    follows=follows)
