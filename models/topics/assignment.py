"""Assign a post to a circle's topic: the nearest topic centroid on the shared encoder, if
its cosine clears a threshold (else no topic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Cosine to the nearest centroid below which a post gets no topic. Chosen on the demo
# world's dev posts (``quanzi evaluate topics`` prints the sweep).
DEFAULT_THRESHOLD = 0.80


@dataclass(frozen=True)
class TopicCentroids:
    """Unit centroids ``(k, d)`` of ``k`` topics, in ``topic_ids`` order."""

    topic_ids: tuple[int, ...]
    matrix: np.ndarray  # (k, d) float32, rows L2-normalised

    @classmethod
    def from_members(
        cls, topic_ids: Sequence[int], vectors: np.ndarray, labels: Sequence[int]
    ) -> TopicCentroids:
        """Centroids of each topic's member vectors (``labels[i]`` is row i's topic)."""
        labels_arr = np.asarray(labels)
        keep: list[int] = []
        rows: list[np.ndarray] = []
        for tid in topic_ids:
            members = vectors[labels_arr == tid]
            if len(members) == 0:
                continue
            mean = members.mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            keep.append(int(tid))
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        matrix = np.array(rows, dtype=np.float32).reshape(len(rows), dim)
        return cls(tuple(keep), matrix)

    def __len__(self) -> int:
        return len(self.topic_ids)

    def assign(
        self, vectors: np.ndarray, threshold: float = DEFAULT_THRESHOLD
    ) -> tuple[list[int | None], np.ndarray]:
        """Each vector's nearest topic id (None below ``threshold``) and its cosine."""
        if len(self) == 0 or len(vectors) == 0:
            return [None] * len(vectors), np.zeros(len(vectors), dtype=np.float32)
        sims = vectors @ self.matrix.T  # (n, k)
        best = sims.argmax(axis=1)
        score = sims[np.arange(len(vectors)), best]
        ids = [
            self.topic_ids[b] if s >= threshold else None for b, s in zip(best, score, strict=True)
        ]
        return ids, score.astype(np.float32)
