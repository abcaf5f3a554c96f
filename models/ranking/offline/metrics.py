"""Ranking metrics of the offline protocol: NDCG@10, examination propensities, segments.

``summarise`` averages per viewer segment (friend-rich ≥ ``FRIEND_RICH`` friends / some
friends / friendless; active / silent / no relation to the circle: ``requests.py``) and
``paired_difference`` says whether a gain is more than request noise (95 % paired
bootstrap).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from quanzi.datasets.world.tables import World
from quanzi.models.ranking.offline.requests import EvalRequest

K = 10
SEGMENTS = (
    "all",
    "friend-rich",
    "some-friends",
    "friendless",
    "active",
    "silent",
    "no-relation",
    "fan",
    "member",
    "past-buyer",
    "phase:warmup",
    "phase:seeding",
    "phase:preheat",
    "phase:peak",
    "phase:after_sales",
    "phase:off_season",
)


def dcg(gains: Sequence[float], k: int = K) -> float:
    g = np.asarray(gains, dtype=np.float64)[:k]
    return float(np.sum(g / np.log2(np.arange(2, len(g) + 2))))


def ndcg_at_k(
    ranked_relevances: Sequence[float], k: int = K, weights: Sequence[float] | None = None
) -> float | None:
    """NDCG@k (gain 2^rel − 1) of relevances in ranked order; None when nothing is relevant.

    ``weights`` (same order) multiply each item's gain: inverse examination propensities
    for the position-debiased variant.
    """
    gains = 2.0 ** np.asarray(ranked_relevances, dtype=np.float64) - 1.0
    if weights is not None:
        gains = gains * np.asarray(weights, dtype=np.float64)
    ideal = dcg(np.sort(gains)[::-1], k)
    return None if ideal == 0 else dcg(gains, k) / ideal


def position_propensity(
    interactions: pd.DataFrame, max_position: int = 50, floor: float = 0.05
) -> np.ndarray:
    """Relative examination probability per logged position, from public logs: CTR at each
    position divided by CTR at position 0 (made non-increasing, floored)."""
    shown = interactions[interactions["kind"] == "impression"]
    clicked = interactions[interactions["kind"] == "click"]
    imp = np.bincount(
        shown["position"].fillna(0).astype(int).clip(0, max_position), minlength=max_position + 1
    ).astype(float)
    clk = np.bincount(
        clicked["position"].fillna(0).astype(int).clip(0, max_position), minlength=max_position + 1
    ).astype(float)
    ctr = (clk + 1.0) / (imp + 20.0)
    prop = np.minimum.accumulate(ctr / ctr[0])
    return np.clip(prop, floor, 1.0)


def examination_logs(world: World, interactions: pd.DataFrame) -> pd.DataFrame:
    """The logs to estimate examination by position from: on a world with exploration
    requests only those (there a post's position is independent of the post, so CTR by
    position is examination alone, not freshness too); else all of ``interactions``."""
    if not world.explores:
        return interactions
    return interactions[interactions["request_id"].map(world.policy).eq("random").to_numpy()]


def summarise(
    requests: Sequence[EvalRequest], ndcg: dict[str, list[float | None]]
) -> dict[str, dict[str, Any]]:
    """Mean NDCG@10 per method, overall and per segment, with request counts."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        groups["all"].append(i)
        for seg in req.segments:
            groups[seg].append(i)
    out: dict[str, dict[str, Any]] = {}
    for seg in SEGMENTS:
        idx = groups.get(seg, [])
        row: dict[str, Any] = {"requests": len(idx)}
        for m, values in ndcg.items():
            vals = [values[i] for i in idx if values[i] is not None]
            row[m] = float(np.mean(vals)) if vals else None
        out[seg] = row
    return out


def exploration_only(
    requests: Sequence[EvalRequest], ndcg: dict[str, list[float | None]]
) -> tuple[list[EvalRequest], dict[str, list[float | None]]]:
    """The exploration (random-order) requests and their NDCG values, in the same order:
    the subset whose labels carry no position-order bias (module docstring)."""
    idx = [i for i, r in enumerate(requests) if r.policy == "random"]
    return [requests[i] for i in idx], {m: [v[i] for i in idx] for m, v in ndcg.items()}


def paired_difference(
    requests: Sequence[EvalRequest],
    ndcg: dict[str, list[float | None]],
    a: str,
    b: str,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[float, float, float]]:
    """Mean NDCG@10 of ``a`` minus ``b`` per segment with a 95 % paired bootstrap interval
    (requests resampled with replacement): whether a gain is more than request noise."""
    rng = np.random.default_rng(seed)
    diffs = np.array(
        [
            np.nan if x is None or y is None else x - y
            for x, y in zip(ndcg[a], ndcg[b], strict=True)
        ],
        dtype=np.float64,
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        if np.isfinite(diffs[i]):
            for seg in ("all", *req.segments):
                groups[seg].append(i)
    out: dict[str, tuple[float, float, float]] = {}
    for seg, idx in groups.items():
        d = diffs[idx]
        boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        out[seg] = (float(d.mean()), float(lo), float(hi))
    return out
