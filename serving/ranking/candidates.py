"""Columnar candidate set: one numpy array per feature, so stages work on whole vectors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Columns a hydrated candidate set carries (dtype, fill value for unknown posts).
COLUMNS: dict[str, tuple[str, object]] = {
    "author_id": ("object", ""),
    "circle_id": ("object", ""),
    "created_ts": ("float64", 0.0),  # seconds since the epoch, UTC
    "status": ("object", "pending"),
    "quality": ("float32", 0.0),  # [0, 1]
    "tier": ("int8", 0),
    "base_level": ("int8", 6),  # 2..6 (viewer-independent)
    "verified": ("bool", False),
    "creator": ("bool", False),
    "impressions": ("float32", 0.0),
    "weighted_actions": ("float32", 0.0),  # Σ interaction weight over all viewers
    "boost": ("float32", 1.0),  # editorial multiplier (hot-list boosts)
    "is_friend": ("bool", False),  # author is the viewer's friend
    "negative_author": ("bool", False),  # viewer hid/reported this author before
    "viewer_level": ("int8", 6),  # 1..6 for this viewer
}


@dataclass
class CandidateSet:
    """Candidates as parallel arrays; ``embeddings`` is (n, d) float32 or None."""

    post_ids: np.ndarray
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    embeddings: np.ndarray | None = None
    sources: np.ndarray | None = None

    @classmethod
    def from_ids(cls, post_ids: list[str], sources: list[str] | None = None) -> CandidateSet:
        n = len(post_ids)
        cols = {name: np.full(n, fill, dtype=dtype) for name, (dtype, fill) in COLUMNS.items()}
        src = np.array(sources if sources is not None else [""] * n, dtype=object)
        return cls(np.array(post_ids, dtype=object), cols, None, src)

    def __len__(self) -> int:
        return len(self.post_ids)

    def take(self, index: np.ndarray) -> CandidateSet:
        """A new set with the rows selected by a boolean mask or an index array."""
        return CandidateSet(
            self.post_ids[index],
            {k: v[index] for k, v in self.cols.items()},
            None if self.embeddings is None else self.embeddings[index],
            None if self.sources is None else self.sources[index],
        )
