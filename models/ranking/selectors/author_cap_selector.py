"""At most ``author_cap`` posts per author, keeping each author's best-ranked ones."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


def rank_within_group(groups: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions share its group (0 for the first).

    Vectorised (a stable sort by group, then the offset from each group's start), because a
    Python loop over 500 candidates costs more than the rest of the ranking.
    """
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_group = groups.argsort(kind="stable")
    sorted_groups = groups[by_group]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_groups[1:], sorted_groups[:-1], out=new_group[1:])
    positions = np.arange(n)
    # each sorted position's group start: the running maximum of the starts seen so far
    group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
    out = np.empty(n, dtype=np.int64)
    out[by_group] = positions - group_start
    return out


class AuthorCapSelector:
    name = "author_cap"

    def select(
        self, query: FeedQuery, candidates: CandidateSet, scores: np.ndarray, order: np.ndarray
    ) -> np.ndarray:
        if len(order) == 0:
            return order
        codes = candidates.cols.get("author_code")  # interned by the snapshot store
        if codes is not None:
            codes = codes[order]
        else:
            authors = candidates.cols["author_id"][order].tolist()
            # Each author's code is the position of their last post (dict(zip) runs in C).
            last = dict(zip(authors, range(len(authors)), strict=True))
            codes = np.fromiter(map(last.__getitem__, authors), np.int64, len(authors))
        return order[rank_within_group(codes) < query.params.author_cap]
