"""A worker's own recent ingests, searchable for near-duplicates before its index has them."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

RECENT_SECONDS = 30.0  # a worker's own ingests stay searchable here until its index has them


class RecentVectors:
    """This worker's recently ingested vectors, searchable before its index has them."""

    def __init__(self, seconds: float = RECENT_SECONDS, cap: int = 20_000) -> None:
        self.seconds = seconds
        self._items: deque[tuple[float, str, str, np.ndarray]] = deque(maxlen=cap)
        self._lock = threading.Lock()

    def add(self, ids: Sequence[str], circles: Sequence[str], vectors: np.ndarray) -> None:
        now = time.monotonic()
        with self._lock:
            for pid, circle, vec in zip(ids, circles, vectors, strict=True):
                self._items.append((now, pid, circle, vec))

    def best(
        self, circle_id: str | None, vector: np.ndarray, exclude: set[str]
    ) -> tuple[str, float] | None:
        """The most similar recent post of the circle (None: of any circle), if any."""
        limit = time.monotonic() - self.seconds
        with self._lock:
            while self._items and self._items[0][0] < limit:
                self._items.popleft()
            mine = [
                (pid, vec)
                for _, pid, circle, vec in self._items
                if (circle_id is None or circle == circle_id) and pid not in exclude
            ]
        if not mine:
            return None
        sims = np.stack([v for _, v in mine]) @ vector
        j = int(np.argmax(sims))
        return mine[j][0], float(sims[j])
