"""Similar questions already answered, on the same SKU or its family (the circle): FAISS
inner-product search over the shared encoder's unit vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np

SAME_ITEM_BONUS = 0.05  # the same SKU's question ranks above an equally close sibling's


@dataclass(frozen=True)
class SimilarQuestion:
    question_id: str
    score: float
    same_item: bool


class QuestionIndex:
    """Answered questions of each family, one flat FAISS index per family (a circle's
    questions number in the thousands: exact search is sub-millisecond)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index: dict[str, faiss.IndexFlatIP] = {}
        self._ids: dict[str, list[str]] = {}
        self._items: dict[str, list[str]] = {}

    def add(
        self, family: str, ids: Sequence[str], items: Sequence[str], vectors: np.ndarray
    ) -> None:
        if len(ids) == 0:
            return
        index = self._index.setdefault(family, faiss.IndexFlatIP(self.dim))
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._ids.setdefault(family, []).extend(ids)
        self._items.setdefault(family, []).extend(items)

    def __len__(self) -> int:
        return sum(len(v) for v in self._ids.values())

    def search(
        self,
        vector: np.ndarray,
        family: str,
        item_id: str | None,
        k: int,
        exclude: str | None = None,
    ) -> list[SimilarQuestion]:
        index = self._index.get(family)
        if index is None or index.ntotal == 0:
            return []
        fetch = min(index.ntotal, max(4 * k, 20))
        sims, rows = index.search(
            np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32), fetch
        )
        ids, items = self._ids[family], self._items[family]
        hits = []
        for s, r in zip(sims[0].tolist(), rows[0].tolist(), strict=True):
            if r < 0 or ids[r] == exclude:
                continue
            same = item_id is not None and items[r] == item_id
            hits.append(
                SimilarQuestion(ids[r], round(s + (SAME_ITEM_BONUS if same else 0.0), 5), same)
            )
        hits.sort(key=lambda h: -h.score)
        return hits[:k]
