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
    # Cosine to the picked items only (k matrix-vector products, not the n × n matrix:
    # k is the served list, n the pool).
    picked = [int(np.argmax(rel))]
    max_sim = vectors @ vectors[picked[0]]
    base = lam * rel
    penalty = np.zeros(n)
    penalty[picked[0]] = np.inf
    while len(picked) < k:
        j = int(np.argmax(base - (1 - lam) * max_sim - penalty))
        picked.append(j)
        penalty[j] = np.inf
        np.maximum(max_sim, vectors @ vectors[j], out=max_sim)
    return np.asarray(picked, dtype=np.int64)


class MMRSelector:
    name = "mmr"

    def select(self, query: FeedQuery, candidates: CandidateSet, scores: np.ndarray,
               order: np.ndarray) -> np.ndarray:
        pool = order[: query.params.mmr_pool]
        vectors = candidates.embeddings_at(pool)
        if vectors is None or len(order) <= 1:
            return order
        # Only the first ``limit`` picks are served: the greedy loop stops there and the rest
        # of the pool follows in score order (the loop is the selector's whole cost).
        picked = mmr_order(scores[pool], vectors, min(len(pool), query.limit),
                           query.params.mmr_lambda)
        rest = np.ones(len(pool), dtype=bool)
        rest[picked] = False
        return np.concatenate([pool[picked], pool[rest], order[len(pool):]])
