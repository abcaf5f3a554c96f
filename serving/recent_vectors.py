"""A worker's own recent ingests, searchable for near-duplicates before its index has them.

Held as the batches they were added in (ids, circles, one matrix each), so a search is one
matrix product over the live vectors for a whole batch of queries: searched a post at a
time, each search copied every live vector (30 s of ingest) into a new matrix, ≈ 0.5 ms of
CPU per ingested post at 150 posts/s.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RECENT_SECONDS = 30.0  # a worker's own ingests stay searchable here until its index has them


@dataclass
class _Added:
    at: float
    ids: list[str]
    circles: list[str]
    vectors: np.ndarray  # (len(ids), dim) float32


class RecentVectors:
    """This worker's recently ingested vectors, searchable before its index has them."""

    def __init__(self, seconds: float = RECENT_SECONDS, cap: int = 20_000) -> None:
        self.seconds = seconds
        self.cap = cap
        self._added: deque[_Added] = deque()
        self._count = 0
        self._lock = threading.Lock()

    def add(self, ids: Sequence[str], circles: Sequence[str], vectors: np.ndarray) -> None:
        """Remember a committed batch's vectors; past ``cap`` the oldest are forgotten."""
        if len(ids) != len(circles) or len(ids) != len(vectors):
            raise ValueError("ids, circles and vectors must be as many")
        if not len(ids):
            return
        added = _Added(time.monotonic(), list(ids), list(circles), np.asarray(vectors, np.float32))
        with self._lock:
            self._added.append(added)
            self._count += len(added.ids)
            while self._count > self.cap:
                oldest = self._added[0]
                drop = min(self._count - self.cap, len(oldest.ids))
                if drop == len(oldest.ids):
                    self._added.popleft()
                else:
                    oldest.ids, oldest.circles = oldest.ids[drop:], oldest.circles[drop:]
                    oldest.vectors = oldest.vectors[drop:]
                self._count -= drop

    def best(
        self, circle_id: str | None, vector: np.ndarray, exclude: set[str]
    ) -> tuple[str, float] | None:
        """The most similar recent post of the circle (None: of any circle), if any."""
        return self.best_many(circle_id, np.asarray(vector)[None, :], exclude)[0]

    def best_many(
        self, circle_id: str | None, vectors: np.ndarray, exclude: set[str]
    ) -> list[tuple[str, float] | None]:
        """``best`` for each row of ``vectors``, in one product."""
        limit = time.monotonic() - self.seconds
        with self._lock:
            while self._added and self._added[0].at < limit:
                self._count -= len(self._added.popleft().ids)
            live = [(a.ids, a.circles, a.vectors) for a in self._added]  # add() may trim
        if not live:
            return [None] * len(vectors)
        matrix = np.concatenate([matrix for _, _, matrix in live])
        sims = np.asarray(vectors, np.float32) @ matrix.T  # (queries, live)
        if circle_id is not None:
            circles = np.concatenate([np.asarray(c, dtype=object) for _, c, _ in live])
            sims[:, circles != circle_id] = -np.inf
        # Positions → ids without flattening every live id (O(live) Python per search):
        # only the few best positions of each query are looked up.
        ends = np.cumsum([len(batch) for batch, _, _ in live])

        def id_at(j: int) -> str:
            k = int(np.searchsorted(ends, j, side="right"))
            return live[k][0][j - (int(ends[k - 1]) if k else 0)]

        return [self._best_of(row, id_at, exclude) for row in sims]

    @staticmethod
    def _best_of(
        row: np.ndarray, id_at: Callable[[int], str], exclude: set[str]
    ) -> tuple[str, float] | None:
        """The best position of ``row`` whose id is not excluded (the excluded are a batch's
        own ids: few, so the best ``len(exclude) + 1`` positions hold the answer)."""
        top = min(len(row), len(exclude) + 1)
        best = np.argpartition(-row, top - 1)[:top] if top < len(row) else np.arange(len(row))
        for j in best[np.argsort(-row[best], kind="stable")]:
            if row[j] == -np.inf:
                return None
            pid = id_at(int(j))
            if pid not in exclude:
                return pid, float(row[j])
        if top == len(row):
            return None
        masked = row.copy()  # more of the best are excluded than expected (repeated ids)
        masked[best] = -np.inf
        return RecentVectors._best_of(masked, id_at, exclude)
