"""The moderation model's thresholds, chosen on dev only (the task's module docstring).

For each learned label: the lowest score at which dev precision stays at or above the
target for every higher threshold (``choose_threshold``), raised where needed so that at
most a set share of real dev reviews is flagged (``background_threshold``: the collateral
budget). ``label_thresholds`` gives both bands of a label with the dev precision, recall
and background rate they give (saved with the model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quanzi.models.moderation.policy import LabelThresholds


def choose_threshold(
    y: Sequence[int], score: Sequence[float], target: float, min_flagged: int = 1
) -> tuple[float, float, float] | None:
    """The lowest cut-off whose precision, and that of every higher cut-off flagging at
    least ``min_flagged`` rows, is ≥ ``target``; with its precision and recall.

    None when no cut-off reaches the target (the band is then switched off).
    """
    y = np.asarray(y, dtype=int)
    s = np.asarray(score, dtype=float)
    if len(y) == 0 or y.sum() == 0:
        return None
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    flagged = np.arange(1, len(y) + 1)
    # Only cut between distinct scores: a cut-off flags every row at or above it.
    last_of_value = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    best: tuple[float, float, float] | None = None
    for k in np.flatnonzero(last_of_value):
        if flagged[k] < min_flagged:
            continue
        precision = tp[k] / flagged[k]
        if precision < target:
            break
        best = (float(s_sorted[k]), float(precision), float(tp[k] / y.sum()))
    return best


def background_threshold(scores: Sequence[float], rate: float) -> float:
    """The lowest cut-off that flags at most ``rate`` of ``scores`` (0 when empty)."""
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    if len(s) == 0:
        return 0.0
    k = int(np.floor(rate * len(s)))
    if k >= len(s):
        return 0.0
    # Flag the k highest only: just above the (k+1)-th highest score.
    return float(np.nextafter(s[k], np.inf))


def label_thresholds(
    y: Sequence[int],
    score: Sequence[float],
    reject_target: float,
    review_target: float,
    min_flagged: int,
    background: Sequence[float] = (),
    reject_background_rate: float = 1.0,
    review_background_rate: float = 1.0,
) -> LabelThresholds:
    """Review and reject thresholds of one label from its dev scores: the precision
    target's cut-off, raised where needed to the real-review background budget."""
    off = 1.01  # above every probability: the band never fires
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    reject = choose_threshold(y, score, reject_target, min_flagged)
    review = choose_threshold(y, score, review_target, min_flagged)
    reject_t = (
        max(reject[0], background_threshold(background, reject_background_rate)) if reject else off
    )
    review_t = (
        max(review[0], background_threshold(background, review_background_rate)) if review else off
    )
    reject_t, review_t = min(reject_t, off), min(review_t, reject_t, off)
    dev = {
        "n": float(len(y)),
        "positives": float(np.sum(y)),
        "background_n": float(len(background)),
    }
    bg = np.asarray(background, dtype=float)
    for name, cut in (("reject", reject_t), ("review", review_t)):
        flags = score >= cut
        if flags.any():
            dev[f"{name}_precision"] = float(y[flags].mean())
        dev[f"{name}_recall"] = float(flags[y == 1].mean()) if y.sum() else 0.0
        if len(bg):
            dev[f"{name}_background_rate"] = float((bg >= cut).mean())
    return LabelThresholds(
        review=review_t,
        reject=reject_t,
        source="dev",
        review_target=review_target,
        reject_target=reject_target,
        dev=dev,
    )
