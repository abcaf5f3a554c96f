"""Columnar candidate set: one numpy array per feature, so stages work on whole vectors."""

from __future__ import annotations

import numpy as np

# Columns a hydrated candidate set carries (dtype, fill value for unknown posts).
COLUMNS: dict[str, tuple[str, object]] = {
    "known": ("bool", False),  # the store has the post (else: reported as unknown)
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
    "ctype": ("int8", 0),  # content type code (models/content_type.py; 0 = unknown)
    "is_friend": ("bool", False),  # author is the viewer's friend
    "negative_author": ("bool", False),  # viewer hid/reported this author before
    "viewer_level": ("int8", 6),  # 1..6 for this viewer
}


class CandidateSet:
    """Candidates as parallel arrays; ``embeddings`` is (n, d) float32 or None.

    Embeddings may be given as rows of a store's matrix (``use_matrix``) and are then only
    gathered when a stage reads them — after the filters, and for MMR only for its pool —
    because copying 500 × d floats per stage was a visible share of a request.
    """

    __slots__ = ("_embeddings", "_matrix", "_rows", "cols", "post_ids", "sources")

    def __init__(
        self,
        post_ids: np.ndarray,
        cols: dict[str, np.ndarray] | None = None,
        embeddings: np.ndarray | None = None,
        sources: np.ndarray | None = None,
    ) -> None:
        self.post_ids = post_ids
        self.cols = cols if cols is not None else {}
        self.sources = sources
        self._embeddings = embeddings
        self._matrix: np.ndarray | None = None
        self._rows: np.ndarray | None = None  # rows of _matrix, −1 = no vector (zeros)

    @classmethod
    def from_ids(
        cls, post_ids: list[str], sources: list[str] | None = None, *, columns: bool = True
    ) -> CandidateSet:
        """A set of ``post_ids`` with the source of each. ``columns=False`` leaves the
        feature columns to the hydrators (``fill_missing`` adds what they did not set)
        instead of allocating defaults that are overwritten at once."""
        n = len(post_ids)
        src = np.array(sources, dtype=object) if sources is not None else np.full(n, "", object)
        out = cls(np.array(post_ids, dtype=object), {}, None, src)
        if columns:
            out.fill_missing()
        return out

    def fill_missing(self) -> None:
        """Give every column of ``COLUMNS`` that is absent its default value."""
        n = len(self.post_ids)
        for name, (dtype, fill) in COLUMNS.items():
            if name not in self.cols:
                self.cols[name] = np.full(n, fill, dtype=dtype)

    def __len__(self) -> int:
        return len(self.post_ids)

    @property
    def embeddings(self) -> np.ndarray | None:
        if self._embeddings is None and self._matrix is not None:
            self._embeddings = self.embeddings_at(slice(None))
        return self._embeddings

    @embeddings.setter
    def embeddings(self, value: np.ndarray | None) -> None:
        self._embeddings, self._matrix, self._rows = value, None, None

    def use_matrix(self, matrix: np.ndarray, rows: np.ndarray) -> None:
        """Embeddings are ``matrix[rows]`` (rows −1: no vector, zeros), gathered lazily."""
        self._embeddings, self._matrix, self._rows = None, matrix, rows

    def embeddings_at(self, index: np.ndarray | slice) -> np.ndarray | None:
        """Embeddings of the candidates at ``index`` only (no copy of the others)."""
        if self._embeddings is not None or self._matrix is None:
            return None if self._embeddings is None else self._embeddings[index]
        assert self._rows is not None
        rows = self._rows[index]
        if rows.size and rows.min() >= 0:
            return self._matrix[rows]
        out = np.zeros((len(rows), self._matrix.shape[1]), dtype=self._matrix.dtype)
        known = rows >= 0
        out[known] = self._matrix[rows[known]]
        return out

    def take(self, index: np.ndarray) -> CandidateSet:
        """A new set with the rows selected by a boolean mask or an index array."""
        out = CandidateSet(
            self.post_ids[index],
            {k: v[index] for k, v in self.cols.items()},
            None if self._embeddings is None else self._embeddings[index],
            None if self.sources is None else self.sources[index],
        )
        if self._embeddings is None and self._matrix is not None:
            assert self._rows is not None
            out.use_matrix(self._matrix, self._rows[index])
        return out
