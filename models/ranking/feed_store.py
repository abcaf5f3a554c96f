"""What the pipeline reads: a feed store interface and an in-memory implementation.

The service keeps post features in memory (refreshed from the database and the index) so a
ranking request never waits on SQL per candidate; tests use the same in-memory store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from quanzi.models.ranking.candidates import COLUMNS, CandidateSet


class FeedStore(Protocol):
    """Read access the ranking stages need."""

    def recent_posts(self, circle_id: str, since_ts: float, limit: int) -> list[str]: ...

    def posts_by_authors(
        self, author_ids: frozenset[str], since_ts: float, limit: int, circle_id: str | None = None
    ) -> list[str]: ...

    def similar_posts(
        self, vector: np.ndarray, k: int, circle_id: str | None, since_ts: float | None = None
    ) -> list[str]: ...

    def hydrate(self, candidates: CandidateSet) -> None: ...


@dataclass
class InMemoryFeedStore:
    """Post features in dicts of arrays; exact cosine search over the embeddings."""

    rows: dict[str, dict[str, object]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, post_id: str, embedding: np.ndarray | None = None, **features: object) -> None:
        unknown = set(features) - set(COLUMNS)
        if unknown:
            raise KeyError(f"unknown feature columns: {sorted(unknown)}")
        self.rows[post_id] = features
        if embedding is not None:
            self.vectors[post_id] = np.asarray(embedding, dtype=np.float32)

    def recent_posts(self, circle_id: str, since_ts: float, limit: int) -> list[str]:
        hits = [
            (r.get("created_ts", 0.0), pid)
            for pid, r in self.rows.items()
            if r.get("circle_id") == circle_id and r.get("created_ts", 0.0) >= since_ts
        ]
        return [pid for _, pid in sorted(hits, reverse=True)[:limit]]

    def posts_by_authors(
        self, author_ids: frozenset[str], since_ts: float, limit: int, circle_id: str | None = None
    ) -> list[str]:
        hits = [
            (r.get("created_ts", 0.0), pid)
            for pid, r in self.rows.items()
            if r.get("author_id") in author_ids
            and r.get("created_ts", 0.0) >= since_ts
            and (circle_id is None or r.get("circle_id") == circle_id)
        ]
        return [pid for _, pid in sorted(hits, reverse=True)[:limit]]

    def similar_posts(
        self, vector: np.ndarray, k: int, circle_id: str | None, since_ts: float | None = None
    ) -> list[str]:
        ids = [
            pid
            for pid in self.vectors
            if (circle_id is None or self.rows.get(pid, {}).get("circle_id") == circle_id)
            and (since_ts is None or self.rows.get(pid, {}).get("created_ts", 0.0) >= since_ts)
        ]
        if not ids:
            return []
        matrix = np.stack([self.vectors[p] for p in ids])
        order = np.argsort(-(matrix @ vector))[:k]
        return [ids[i] for i in order]

    def hydrate(self, candidates: CandidateSet) -> None:
        candidates.fill_missing()
        for i, pid in enumerate(candidates.post_ids):
            row = self.rows.get(pid)
            if row is None:
                continue
            candidates.cols["known"][i] = True
            for name, value in row.items():
                candidates.cols[name][i] = value
        if self.vectors:
            dim = len(next(iter(self.vectors.values())))
            candidates.embeddings = (
                np.stack(
                    [
                        self.vectors.get(pid, np.zeros(dim, dtype=np.float32))
                        for pid in candidates.post_ids
                    ]
                )
                if len(candidates)
                else np.zeros((0, dim), dtype=np.float32)
            )
