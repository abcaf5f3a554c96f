"""Set membership of a candidate column, the filters' and hydrators' one inner loop.

Why a helper: a Python generator over 500 candidates per set per request was a large share
of the ranking cost. Most viewers' sets are empty (no reports, no blocked authors, no
friends) or small; an empty set costs nothing here and a small one a few vectorised
comparisons. Large sets (the seen posts of an active viewer) iterate over the candidates in C
(``map`` of the set's ``__contains__``).
"""

from __future__ import annotations

from collections.abc import Set

import numpy as np

SMALL = 8  # up to this many members, compare element-wise (numpy) instead of hashing


def isin(values: np.ndarray, members: Set[str]) -> np.ndarray:
    """Boolean mask: ``values[i] in members``, for an object array of strings."""
    n = len(values)
    if not members or n == 0:
        return np.zeros(n, dtype=bool)
    if len(members) <= SMALL:
        out = np.zeros(n, dtype=bool)
        for m in members:
            out |= values == m
        return out
    return np.fromiter(map(members.__contains__, values), dtype=bool, count=n)
