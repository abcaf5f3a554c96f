"""Features both scorers compute the same way: the weighted scorer and the learned ranker's
``ranker_features`` call these, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from quanzi.models.content_type import CONTENT_TYPES
from quanzi.models.ranking.params import CONTENT_PHASE_AFFINITY, PHASE_AFFINITY

# Per phase, the affinity of each content-type code (``CONTENT_TYPES``; unknown → 0).
_CONTENT_TABLES: dict[str, np.ndarray] = {
    phase: np.array([0.0] + [aff[t] for t in CONTENT_TYPES[1:]], dtype=np.float32)
    for phase, aff in CONTENT_PHASE_AFFINITY.items()
}


def phase_affinity(phase: str, cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """How well each candidate fits the campaign phase (domain.md): the mean of the phase's
    affinities for the creator, verified-purchase and detailed (tier 3) flags it has."""
    aff = PHASE_AFFINITY[phase]
    return (
        aff["creator"] * cols["creator"]
        + aff["verified"] * cols["verified"]
        + aff["detailed"] * (cols["tier"] >= 3)
    ) / 3.0


def trust_value(
    levels: np.ndarray, values: Sequence[float] | np.ndarray, dtype: type[np.floating] = np.float64
) -> np.ndarray:
    """The value of each viewer-relative trust level L1..L6 (``values[0]`` is L1; levels
    outside 1..6 count as the nearest end). Ufuncs, not ``np.clip``: hot path."""
    table = np.asarray(values, dtype=dtype)
    return table[np.minimum(np.maximum(levels, 1), 6) - 1]


def content_type_affinity(phase: str, ctype: np.ndarray) -> np.ndarray:
    """How well each candidate's content type fits the campaign phase, in [0, 1]
    (``CONTENT_PHASE_AFFINITY``); an unknown type (code 0) scores 0."""
    table = _CONTENT_TABLES[phase]
    return table[np.minimum(np.maximum(ctype, 0), len(table) - 1)]
