"""Loads a viewer's context for ranking: friends, history, negative feedback, interest vector.

Why a cache: the feed service asks for the same viewer's feed several times a minute (each
scroll), and reading a viewer's history costs more than ranking, so each worker caches
contexts per viewer (``QUANZI_FEED_VIEWER_CACHE_TTL_S``). The cache is kept current by the
feed store's change feed: every refresh (``QUANZI_FEED_REFRESH_INTERVAL_MS``) applies new
interactions to the cached contexts of their viewers (``ViewerLoader.apply``) and drops
those whose friends or follows changed, so the TTL only bounds what the change feed does
not carry (the lookback window moving on, deleted relations). The feed service also passes
what it just showed as ``exclude_ids``.

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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np
from cachetools import TTLCache
from sqlalchemy import Engine, bindparam, select

from quanzi.models.ranking.query import ViewerContext
from quanzi.storage.orm import BrandRelation, Interaction, Post, UserRelation

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


@dataclass
class _History:
    """The sets a viewer's history folds into (newest interaction first)."""

    seen: set[str] = field(default_factory=set)
    negative: set[str] = field(default_factory=set)
    negative_authors: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    engaged: dict[str, None] = field(default_factory=dict)  # ordered, newest first

    def fold(self, history: Iterable[tuple[str, str, str]], max_engaged: int) -> _History:
        for post_id, kind, author_id in history:
            if kind == "impression":
                self.seen.add(post_id)
            elif kind in POSITIVE_KINDS and len(self.engaged) < max_engaged:
                self.engaged.setdefault(post_id)
            if kind in HIDE_KINDS:
                self.negative.add(post_id)
                self.negative_authors.add(author_id)
                if kind in BLOCK_KINDS:
                    self.blocked.add(author_id)
        return self


def build_viewer_context(
    viewer_id: str,
    friends: Iterable[str],
    history: Iterable[tuple[str, str, str]],
    vectors: VectorSource,
    max_engaged: int = 50,
    follows: Iterable[str] = (),
    brand: Iterable[tuple[str, str, bool]] = (),
) -> ViewerContext:
    """A context from the viewer's friends, follows, brand relations ``(circle, kind,
    active)`` and history ``(post_id, kind, author_id)``, newest first. Shared by the
    service's SQL loader and the offline evaluation (and the learned ranker's training),
    so the three see the same context."""
    h = _History().fold(history, max_engaged)
    return _context(
        viewer_id, friends, follows, h, list(h.engaged), vectors, max_engaged, tuple(brand)
    )


def extend_viewer_context(
    ctx: ViewerContext,
    history: Iterable[tuple[str, str, str]],
    vectors: VectorSource,
    max_engaged: int = 50,
) -> ViewerContext:
    """``ctx`` with newer interactions ``(post_id, kind, author_id)``, newest first, applied:
    what the change feed does to a cached context instead of re-reading the history."""
    h = _History(
        set(ctx.seen_posts),
        set(ctx.negative_posts),
        set(ctx.negative_authors),
        set(ctx.blocked_authors),
    ).fold(history, max_engaged)
    if not h.engaged and (len(h.negative), len(h.negative_authors), len(h.blocked)) == (
        len(ctx.negative_posts),
        len(ctx.negative_authors),
        len(ctx.blocked_authors),
    ):
        # Impressions only (the common case): the interest vector stays as it is.
        return (
            ctx
            if len(h.seen) == len(ctx.seen_posts)
            else replace(ctx, seen_posts=frozenset(h.seen))
        )
    engaged = list(dict.fromkeys([*h.engaged, *ctx.engaged_posts]))
    return _context(
        ctx.viewer_id, ctx.friends, ctx.follows, h, engaged, vectors, max_engaged, ctx.brand
    )


def _context(
    viewer_id: str,
    friends: Iterable[str],
    follows: Iterable[str],
    h: _History,
    engaged: list[str],
    vectors: VectorSource,
    max_engaged: int,
    brand: tuple[tuple[str, str, bool], ...] = (),
) -> ViewerContext:
    engaged_ids = [p for p in engaged[:max_engaged] if p not in h.negative]
    interest = interest_vector(vectors.vectors_of(engaged_ids)) if engaged_ids else None
    return ViewerContext(
        viewer_id=viewer_id,
        friends=frozenset(friends) - {viewer_id},
        follows=frozenset(follows) - {viewer_id},
        seen_posts=frozenset(h.seen),
        negative_posts=frozenset(h.negative),
        negative_authors=frozenset(h.negative_authors),
        blocked_authors=frozenset(h.blocked),
        engaged_posts=tuple(engaged_ids),
        interest=interest,
        brand=brand,
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
    _touched: TTLCache[str, int] = field(init=False)  # viewer → seq of the last apply
    _seq: int = 0

    def __post_init__(self) -> None:
        self._cache = TTLCache(maxsize=self.max_viewers, ttl=self.ttl_s)
        self._touched = TTLCache(maxsize=self.max_viewers, ttl=max(self.ttl_s, 1.0))
        # Built once: SQLAlchemy then reuses the compiled form (statement construction
        # otherwise costs as much as the query itself).
        viewer, since, until = bindparam("viewer"), bindparam("since"), bindparam("until")
        self._relations_stmt = select(UserRelation.other_id, UserRelation.kind).where(
            UserRelation.user_id == viewer, UserRelation.kind.in_(("friend", "follow"))
        )
        self._brand_stmt = select(
            BrandRelation.circle_id, BrandRelation.kind, BrandRelation.active
        ).where(BrandRelation.user_id == viewer)
        self._history_stmt = (
            select(Interaction.post_id, Interaction.kind, Post.author_id)
            .join(Post, Post.id == Interaction.post_id)
            .where(
                Interaction.user_id == viewer,
                Interaction.created_at >= since,
                Interaction.created_at <= until,
            )
            .order_by(Interaction.created_at.desc(), Interaction.id.desc())
            .limit(self.max_history)
        )

    def load(
        self, viewer_id: str, vectors: VectorSource, as_of: datetime | None = None
    ) -> ViewerContext:
        """The viewer's context now, or as of a past time (replays), cached per both.

        An unknown viewer gets an empty context: ranking then works from post features
        alone (cold start).
        """
        key = (viewer_id, as_of)
        hit = self.peek(viewer_id, as_of)
        if hit is not None:
            return hit
        with self._lock:
            touched_before = self._touched.get(viewer_id)
        context = self._read(viewer_id, vectors, as_of or datetime.now(UTC))
        if self.ttl_s > 0:
            with self._lock:
                # Changes applied while we read may be missing from what we read: serve it,
                # but don't cache it (the next request reads again).
                if self._touched.get(viewer_id) == touched_before:
                    self._cache[key] = context
        return context

    def apply(
        self,
        rows: Iterable[tuple[str, str, str, str]],
        vectors: VectorSource,
        relation_users: Iterable[str] = (),
    ) -> int:
        """Bring cached live contexts up to date with new interactions ``(user_id, post_id,
        kind, author_id)`` in commit order (the feed store's change feed calls this every
        refresh), and drop the contexts of users whose relations changed. Returns how many
        cached contexts changed. Replays (``as_of`` keys) are history and stay as they are.
        """
        by_user: dict[str, list[tuple[str, str, str]]] = {}
        for user_id, post_id, kind, author_id in rows:
            by_user.setdefault(user_id, []).append((post_id, kind, author_id))
        dropped = set(relation_users)
        with self._lock:
            self._seq += 1
            for user in by_user.keys() | dropped:
                self._touched[user] = self._seq
            for user in dropped:
                self._cache.pop((user, None), None)
            cached = {
                u: c
                for u in by_user
                if u not in dropped and (c := self._cache.get((u, None))) is not None
            }
        updated = {
            u: extend_viewer_context(c, reversed(by_user[u]), vectors, self.max_engaged)
            for u, c in cached.items()
        }
        with self._lock:
            for user, ctx in updated.items():
                if self._cache.get((user, None)) is cached[user]:  # not replaced meanwhile
                    self._cache[(user, None)] = ctx
        return len(updated) + len(dropped)

    def peek(self, viewer_id: str, as_of: datetime | None = None) -> ViewerContext | None:
        """The cached context, or None: lets an async caller do the SQL of a miss off its
        event loop (``load`` in a thread) and serve a hit inline."""
        if self.ttl_s <= 0:
            return None
        with self._lock:
            return self._cache.get((viewer_id, as_of))

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
            brand = conn.execute(self._brand_stmt, {"viewer": viewer_id}).all()
            history = conn.execute(
                self._history_stmt, {"viewer": viewer_id, "since": since, "until": now}
            ).all()
        friends = [other for other, kind in relations if kind == "friend"]
        follows = [other for other, kind in relations if kind == "follow"]
        return build_viewer_context(
            viewer_id,
            friends,
            history,
            vectors,
            self.max_engaged,
            follows=follows,
            brand=[(c, k, bool(a)) for c, k, a in brand],
        )
