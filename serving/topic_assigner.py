"""Topic assignment at ingest: a post without a ``#tag#`` joins its circle's nearest topic
(``models/topics/assignment.py``: encoder + char n-gram centroids, threshold).

Each worker keeps its circles' centroids in memory (one ``TopicAssigner`` per model
generation, so a new encoder never meets old centroids): a batch costs one small query
(the batch's circles' topics, to notice a topic created, hidden or merged meanwhile — in
this worker or another) plus, per post, one hashing pass and two products against a few
centroids. Centroids are rebuilt from the tagged posts when that fingerprint changes or
after ``topic_centroids_ttl_s`` (new tagged posts move them slowly)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from quanzi.models.topics.assignment import DEFAULT_THRESHOLD, TopicCentroids, lexical_vectors
from quanzi.serving.editorial.topics import add_assignments, circle_centroids, topics_fingerprint


class TopicAssigner:
    """Per-circle centroids for one encoder version, rebuilt when stale."""

    def __init__(self, ttl_s: float = 300.0, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.ttl_s = ttl_s
        self.threshold = threshold
        self._lock = threading.Lock()
        # circle → (fingerprint, built at (monotonic s), centroids or None)
        self._cache: dict[str, tuple[tuple, float, TopicCentroids | None]] = {}

    def _centroids(
        self, session: Session, circle_ids: Sequence[str], encoder_version: str
    ) -> dict[str, TopicCentroids | None]:
        prints = topics_fingerprint(session, circle_ids)
        now = time.monotonic()
        out: dict[str, TopicCentroids | None] = {}
        for cid in circle_ids:
            with self._lock:
                cached = self._cache.get(cid)
            if cached is not None and cached[0] == prints[cid] and now - cached[1] < self.ttl_s:
                out[cid] = cached[2]
                continue
            cents = circle_centroids(session, cid, encoder_version) if prints[cid] else None
            with self._lock:
                self._cache[cid] = (prints[cid], now, cents)
            out[cid] = cents
        return out

    def assign(
        self,
        session: Session,
        posts: Sequence[tuple[str, str, datetime, str]],
        vectors: np.ndarray,
        encoder_version: str,
    ) -> int:
        """Link each untagged (post id, circle, created, text) whose ``vectors`` row is
        near enough to one of its circle's topics; returns the links added."""
        if not posts:
            return 0
        circles = sorted({c for _, c, _, _ in posts})
        cents = self._centroids(session, circles, encoder_version)
        with_topics = {cid for cid in circles if cents[cid] is not None and len(cents[cid])}
        if not with_topics:  # most circles have no topics: no hashing pass at all
            return 0
        wanted = [i for i, p in enumerate(posts) if p[1] in with_topics]
        lexical = lexical_vectors([posts[i][3] for i in wanted])
        row_of = {i: k for k, i in enumerate(wanted)}
        linked = 0
        for cid in sorted(with_topics):
            c = cents[cid]
            if c is None:
                continue
            rows = [i for i in wanted if posts[i][1] == cid]
            got, score = c.assign(vectors[rows], self.threshold, lexical[[row_of[i] for i in rows]])
            linked += add_assignments(
                session, [(posts[i][0], posts[i][2]) for i in rows], got, score.tolist()
            )
        return linked
