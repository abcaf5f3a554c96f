"""What each circle's feed draws from, by kind: a brand circle its own posts, an industry
circle its member brand circles' (``parent_id``), an interest circle its topics' posts, a
SKU Q&A circle none (its content is Q&A). Cached per worker: circles and topics are
re-read every ``SCOPES_TTL_S`` (they change rarely; the feed's hot path must not read the
database each second), a topic's posts after ``ttl_s`` (the feed refresh interval)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from quanzi.storage.orm import Circle, PostTopic, Topic


@dataclass(frozen=True)
class CircleScope:
    kind: str
    members: tuple[str, ...] = ()  # industry: member brand circles; brand: itself
    topic_ids: tuple[int, ...] = ()  # the circle's visible topics


SCOPES_TTL_S = 30.0


class CircleScopes:
    def __init__(self, engine: Engine, ttl_s: float = 1.0) -> None:
        self.engine = engine
        self.ttl_s = max(ttl_s, 1.0)
        self._scopes: dict[str, CircleScope] = {}
        self._at = -1e18
        self._lock = threading.Lock()
        self._topic_cache: dict[tuple[int, ...], tuple[float, list[str]]] = {}

    def _load(self) -> None:
        with self.engine.connect() as conn:
            circles = conn.execute(select(Circle.id, Circle.kind, Circle.parent_id)).all()
            topics = conn.execute(
                select(Topic.id, Topic.circle_id).where(Topic.status == "active")
            ).all()
        members: dict[str, list[str]] = {}
        for cid, _kind, parent in circles:
            if parent:
                members.setdefault(parent, []).append(cid)
        by_circle: dict[str, list[int]] = {}
        for tid, cid in topics:
            by_circle.setdefault(cid, []).append(tid)
        scopes = {}
        for cid, kind, _parent in circles:
            own = tuple(sorted(members.get(cid, []))) if kind == "industry" else (cid,)
            if kind == "industry":
                own = tuple(m for m in own if m != cid)
            scopes[cid] = CircleScope(kind, own, tuple(sorted(by_circle.get(cid, []))))
        self._scopes = scopes
        self._at = time.monotonic()

    def get(self, circle_id: str) -> CircleScope | None:
        """The circle's scope (None: the store does not know the circle)."""
        if time.monotonic() - self._at > SCOPES_TTL_S:
            with self._lock:
                if time.monotonic() - self._at > SCOPES_TTL_S:
                    self._load()
        return self._scopes.get(circle_id)

    def peek(self, circle_id: str) -> CircleScope | None:
        """The cached scope without reading the database (None when not cached)."""
        return self._scopes.get(circle_id)

    def topic_posts(self, topic_ids: Iterable[int]) -> list[str]:
        """Post ids in these topics (merged topics forward to where they were merged)."""
        key = tuple(sorted(set(topic_ids)))
        hit = self._topic_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        with self.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(PostTopic.post_id)
                    .where(PostTopic.topic_id.in_(key))
                    .distinct()
                    .order_by(PostTopic.post_id)
                )
            ]
        self._topic_cache[key] = (time.monotonic(), ids)
        return ids
