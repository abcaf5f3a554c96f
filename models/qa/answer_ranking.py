"""Rank a question's answers: helpfulness and trust, the viewer's friends first (as in the
feed, a friend's word is L1), non-answers kept out of the top."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnswerRankParams:
    bought_bonus: float = 0.3  # a verified buyer's answer (L3: post-purchase share)
    votes_weight: float = 0.15  # × log1p(helpful votes)


def answer_order(
    helpfulness: np.ndarray,
    non_answer: np.ndarray,
    *,
    threshold: float,
    bought: np.ndarray,
    votes: np.ndarray | None = None,
    friend: np.ndarray | None = None,
    params: AnswerRankParams | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the answers, best first, and each answer's score.

    Tiers, in order: friends' answers, other answers, then every non-answer (P ≥
    ``threshold``); within a tier by helpfulness + trust.
    """
    p = params or AnswerRankParams()
    n = len(helpfulness)
    votes = np.zeros(n) if votes is None else np.asarray(votes, dtype=np.float64)
    friend = np.zeros(n, dtype=bool) if friend is None else np.asarray(friend, dtype=bool)
    score = (
        np.asarray(helpfulness, dtype=np.float64)
        + p.bought_bonus * np.asarray(bought, dtype=np.float64)
        + p.votes_weight * np.log1p(votes)
    )
    is_na = np.asarray(non_answer) >= threshold
    tier = np.where(is_na, 2, np.where(friend, 0, 1))
    order = np.lexsort((np.arange(n), -score, tier))
    return order, score
