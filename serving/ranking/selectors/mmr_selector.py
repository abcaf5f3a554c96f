"""Maximal marginal relevance over post embeddings: near-identical posts don't stack up.

Greedy: pick argmax over the pool of λ·score − (1−λ)·max cosine to what is already picked.
Scores are min-max scaled to [0, 1] first so λ means the same whatever the weights are.
"""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery


def mmr_order(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Indices (into ``relevance``) of ``k`` items picked by MMR."""
    n = len(relevance)
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    span = float(relevance.max() - relevance.min())
    rel = (relevance - relevance.min()) / span if span > 0 else np.zeros(n)
    sims = vectors @ vectors.T  # (n, n) cosine for unit vectors
    picked = [int(np.argmax(rel))]
    max_sim = sims[picked[0]].copy()
    available = np.ones(n, dtype=bool)
    available[picked[0]] = False
    while len(picked) < k:
        gain = np.where(available, lam * rel - (1 - lam) * max_sim, -np.inf)
        j = int(np.argmax(gain))
        picked.append(j)
        available[j] = False
        max_sim = np.maximum(max_sim, sims[j])
    return np.asarray(picked, dtype=np.int64)


class MMRSelector:
    name = "mmr"

    def select(self, query: FeedQuery, candidates: CandidateSet, scores: np.ndarray,
               order: np.ndarray) -> np.ndarray:
        if candidates.embeddings is None or len(order) <= 1:
            return order
        pool = order[: query.params.mmr_pool]
        picked = mmr_order(scores[pool], candidates.embeddings[pool], len(pool),
                           query.params.mmr_lambda)
        return np.concatenate([pool[picked], order[len(pool):]])
