"""Features both scorers compute the same way: the weighted scorer and the learned ranker's
``ranker_features`` call these, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from quanzi.models.ranking.params import PHASE_AFFINITY


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
