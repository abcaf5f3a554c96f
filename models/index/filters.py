"""Search filters, turned into a bitmap over the index's slots and handed to FAISS.

The filter is applied *inside* the search (FAISS checks the bitmap while it walks the
graph or scans the vectors), so ``k`` results that pass it come back without guessing
how many to over-fetch and drop afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

# Post statuses (as in quanzi.storage.orm.POST_STATUSES) coded as int8 beside the index.
STATUS_CODES: dict[str, int] = {
    name: code for code, name in enumerate(("pending", "pass", "review", "reject", "removed"))
}
UNKNOWN = -1


@dataclass(frozen=True)
class PostMeta:
    """What a filter can ask about an indexed post; ``None`` means unknown."""

    circle_id: str | None = None
    quality: float | None = None
    status: str | None = None


@dataclass(frozen=True)
class SearchFilter:
    """Which posts a search may return; every field left unset allows everything."""

    circle_id: str | None = None
    min_quality: float | None = None
    statuses: frozenset[str] | None = None
    exclude_ids: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.statuses is not None:
            unknown = set(self.statuses) - set(STATUS_CODES)
            if unknown:
                raise ValueError(
                    f"unknown post statuses {sorted(unknown)}; "
                    f"expected some of {sorted(STATUS_CODES)}"
                )
        if self.min_quality is not None and not np.isfinite(self.min_quality):
            raise ValueError(f"min_quality must be a finite number, got {self.min_quality}")

    @classmethod
    def of(
        cls,
        *,
        circle_id: str | None = None,
        min_quality: float | None = None,
        statuses: Iterable[str] | None = None,
        exclude_ids: Iterable[str] = (),
    ) -> SearchFilter:
        """Build a filter from plain iterables (API request fields)."""
        return cls(
            circle_id=circle_id,
            min_quality=min_quality,
            statuses=None if statuses is None else frozenset(statuses),
            exclude_ids=frozenset(exclude_ids),
        )

    @property
    def is_empty(self) -> bool:
        return (
            self.circle_id is None
            and self.min_quality is None
            and self.statuses is None
            and not self.exclude_ids
        )


def filter_mask(
    flt: SearchFilter,
    alive: np.ndarray,
    circle: np.ndarray,
    quality: np.ndarray,
    status: np.ndarray,
    circle_code: int | None,
    excluded_slots: Iterable[int],
) -> np.ndarray:
    """Boolean mask over slots: alive and passing every condition of ``flt``.

    ``circle_code`` is the code of ``flt.circle_id`` (``None`` when the index has never seen
    that circle: then nothing passes). Unknown quality never passes a ``min_quality``.
    """
    mask = alive.copy()
    if flt.circle_id is not None:
        if circle_code is None:
            return np.zeros_like(alive)
        mask &= circle == circle_code
    if flt.min_quality is not None:
        # NaN (unknown) compares False, so unscored posts are excluded.
        mask &= quality >= np.float32(flt.min_quality)
    if flt.statuses is not None:
        codes = np.array([STATUS_CODES[s] for s in flt.statuses], dtype=status.dtype)
        mask &= np.isin(status, codes)
    slots = np.fromiter(excluded_slots, dtype=np.int64)
    if slots.size:
        mask[slots] = False
    return mask


def mask_to_bitmap(mask: np.ndarray) -> np.ndarray:
    """Pack a boolean mask into FAISS's IDSelectorBitmap layout (bit i of byte i//8, LSB first)."""
    return np.packbits(mask, bitorder="little")
