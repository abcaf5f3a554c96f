"""Trending topics: a topic's recent rate against its own baseline (burst), smoothed so a
topic with three posts does not top the list, with the counts that justify it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOUR = 3600.0


@dataclass(frozen=True)
class TrendParams:
    """Windows and the prior; the prior adds ``prior_posts`` pseudo-posts at the baseline
    rate to both sides, which pulls small counts' bursts towards 1."""

    recent_hours: float = 24.0
    baseline_hours: float = 24.0 * 7  # the days before the recent window
    prior_posts: float = 5.0
    min_recent: int = 2  # a topic needs this many recent posts to trend at all
    evidence_windows: int = 8  # counts per recent-window length, oldest first


@dataclass(frozen=True)
class Trend:
    topic_id: int
    burst: float  # smoothed recent rate / baseline rate
    recent: int
    baseline: int
    expected: float  # recent posts expected at the baseline rate
    windows: list[int] = field(default_factory=list)  # evidence: counts per window


def trending(
    topic_ids: np.ndarray, created_ts: np.ndarray, now_ts: float, params: TrendParams
) -> list[Trend]:
    """Topics ranked by smoothed burst, largest first (ties: more recent posts first).

    ``topic_ids[i]`` and ``created_ts[i]`` (epoch seconds) describe one post-in-topic.
    """
    recent_s = params.recent_hours * HOUR
    base_s = params.baseline_hours * HOUR
    age = now_ts - np.asarray(created_ts, dtype=np.float64)
    ok = (age >= 0) & (age < max(recent_s + base_s, params.evidence_windows * recent_s))
    topic_ids, age = np.asarray(topic_ids)[ok], age[ok]
    out: list[Trend] = []
    ratio = recent_s / base_s
    for tid in np.unique(topic_ids):
        a = age[topic_ids == tid]
        recent = int(np.count_nonzero(a < recent_s))
        baseline = int(np.count_nonzero((a >= recent_s) & (a < recent_s + base_s)))
        expected = baseline * ratio
        # Gamma-Poisson smoothing: both rates get the same prior mass at a rate of one
        # post per baseline window, so 3 vs 0 gives (3+5)/(0+5)=1.6, not infinity.
        prior = params.prior_posts
        burst = (recent + prior) / (expected + prior)
        windows = np.bincount(
            np.minimum((a // recent_s).astype(np.int64), params.evidence_windows),
            minlength=params.evidence_windows + 1,
        )[: params.evidence_windows][::-1]
        if recent < params.min_recent:
            continue
        out.append(
            Trend(
                topic_id=int(tid),
                burst=round(float(burst), 4),
                recent=recent,
                baseline=baseline,
                expected=round(float(expected), 3),
                windows=[int(x) for x in windows],
            )
        )
    out.sort(key=lambda t: (-t.burst, -t.recent, t.topic_id))
    return out
