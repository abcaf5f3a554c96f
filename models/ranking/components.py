"""The one-method interfaces of the pipeline's components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class Source(Protocol):
    """Proposes candidate post ids."""

    name: str

    def enabled(self, query: FeedQuery) -> bool: ...

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]: ...


class Hydrator(Protocol):
    """Fills the columns it owns, in place."""

    name: str

    def hydrate(self, query: FeedQuery, store: FeedStore, candidates: CandidateSet) -> None: ...


class Filter(Protocol):
    """Returns a keep-mask; the runner records what was removed and by whom."""

    name: str

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray: ...


@dataclass
class Scored:
    """Scores with each feature's additive contribution (for the 'why it ranked' reasons)."""

    scores: np.ndarray  # (n,)
    contributions: dict[str, np.ndarray]  # name → (n,)
    scorer: str = "weighted-v1"  # what scored them (the feed response's model_versions.ranker)


class Scorer(Protocol):
    name: str

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored: ...


class Selector(Protocol):
    """Takes candidate indices in ranked order and returns the indices it keeps, in order."""

    name: str

    def select(
        self, query: FeedQuery, candidates: CandidateSet, scores: np.ndarray, order: np.ndarray
    ) -> np.ndarray: ...
