"""The ranker task's fit: standardised features, a pairwise (RankNet-style) or pointwise
logistic regression, optionally inverse-propensity weighted; every choice of the grid fit
on train and scored on dev, the best refit on train + dev (the task's module docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from quanzi.models.ranker import FEATURES, LinearRanker
from quanzi.models.ranking.offline.metrics import ndcg_at_k
from quanzi.models.ranking.offline.requests import EvalRequest
from quanzi.training.tasks_impl.ranker_config import FEATURE_SETS, RankerConfig
from quanzi.training.tasks_impl.ranker_data import DaySplit, RankerData


@dataclass(frozen=True)
class Choice:
    objective: str
    C: float
    ipw: bool
    feature_set: str
    train_set: str = "all"  # "all" requests or "explore" (exploration requests only)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def _pairs(
    frame: pd.DataFrame, z: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Within-request differences x_i − x_j for rel_i > rel_j, both signs, weighted by the
    label gap × the example weight of the better item."""
    rel = frame["rel"].to_numpy()
    diffs, ws = [], []
    for idx in frame.groupby("req", sort=False).indices.values():
        r = rel[idx]
        gap = r[:, None] - r[None, :]
        i, j = np.nonzero(gap > 0)
        if not len(i):
            continue
        diffs.append(z[idx[i]] - z[idx[j]])
        ws.append(gap[i, j] * weight[idx[i]])
    if not diffs:
        raise ValueError("no request has two differently labelled candidates to learn from")
    d = np.concatenate(diffs)
    w = np.concatenate(ws).astype(np.float64)
    return np.concatenate([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], np.r_[w, w]


def fit_ranker(
    frame: pd.DataFrame, choice: Choice, propensity: np.ndarray, seed: int = 0
) -> LinearRanker:
    """One linear ranker on training rows (``frame``: see ``build_days``)."""
    features = FEATURE_SETS[choice.feature_set]
    x = frame[list(features)].to_numpy(dtype=np.float64)
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    pos = frame["position"].to_numpy().clip(0, len(propensity) - 1)
    weight = 1.0 / propensity[pos] if choice.ipw else np.ones(len(frame))
    if choice.objective == "pairwise":
        xs, y, w = _pairs(frame, z, weight)
        model = LogisticRegression(C=choice.C, fit_intercept=False, max_iter=500, random_state=seed)
    elif choice.objective == "pointwise":
        xs, y, w = z, (frame["rel"].to_numpy() > 0).astype(int), weight
        model = LogisticRegression(C=choice.C, max_iter=500, random_state=seed)
    else:
        raise ValueError(f"unknown objective {choice.objective!r}: pairwise or pointwise")
    model.fit(xs, y, sample_weight=w / w.mean())
    return LinearRanker(
        features=features,
        mean=mean,
        scale=scale,
        weights=model.coef_[0],
        config={
            "objective": choice.objective,
            "C": choice.C,
            "ipw": choice.ipw,
            "feature_set": choice.feature_set,
            "train_set": choice.train_set,
        },
    )


def frame_ndcg(frame: pd.DataFrame, requests: Sequence[EvalRequest], scores: np.ndarray) -> float:
    """Mean NDCG@10 of each request's eligible candidates (the rows the filters kept)
    ranked by ``scores``, under the eligible-set protocol (``offline/replay.py``; requests
    with < 2 eligible or no relevant one skipped): the pipeline without its diversity
    stages, fast, for choosing on dev."""
    values = []
    rel = frame["rel"].to_numpy()
    for idx in frame.groupby("req", sort=True).indices.values():
        if len(idx) < 2:
            continue
        v = ndcg_at_k(rel[idx[np.argsort(-scores[idx], kind="stable")]])
        if v is not None:
            values.append(v)
    return float(np.mean(values)) if values else 0.0


def _rows(days: DaySplit, train_set: str) -> pd.DataFrame:
    """The rows of ``days`` a choice trains on: every request, or the exploration ones."""
    if train_set == "all":
        return days.frame
    if train_set == "explore":
        return days.frame[days.explore_rows()]
    raise ValueError(f"unknown train set {train_set!r}: all or explore")


def choose_and_fit(
    data: RankerData, config: RankerConfig
) -> tuple[LinearRanker, list[dict[str, Any]]]:
    """Every choice of the grid fit on train and scored on dev; the best one is refit on
    train + dev (more days of evidence, still no held-out day). On a world with
    exploration requests dev is scored on those only, and training on them only is one
    of the choices."""
    trials = []
    best: tuple[float, Choice] | None = None
    dev_frame = data.dev.frame[data.dev.explore_rows()] if data.explores else data.dev.frame
    dev_rows = dev_frame[list(FEATURES)].to_numpy(dtype=np.float64)
    train_sets = [t for t in config.train_sets if t == "all" or data.explores]
    for train_set in train_sets:
        train = _rows(data.train, train_set)
        for objective in config.objectives:
            for c in config.C_grid:
                for ipw in config.ipw_grid:
                    for fs in config.feature_sets:
                        choice = Choice(objective, c, ipw, fs, train_set)
                        ranker = fit_ranker(train, choice, data.propensity, config.seed)
                        score = frame_ndcg(dev_frame, data.dev.requests, ranker.score(dev_rows))
                        trials.append({**choice.__dict__, "dev_ndcg10": score})
                        if best is None or score > best[0]:
                            best = (score, choice)
    if best is None:
        raise ValueError("no choice to try: config.train_sets must include 'all'")
    dev = _rows(data.dev, best[1].train_set)
    both = pd.concat(
        [
            _rows(data.train, best[1].train_set),
            dev.assign(req=dev["req"] + len(data.train.requests)),
        ],
        ignore_index=True,
    )
    ranker = fit_ranker(both, best[1], data.propensity, config.seed)
    ranker.config.update(
        {
            "dev_ndcg10": best[0],
            "world": data.world.name,
            "train_days": data.days["train"],
            "dev_days": data.days["dev"],
            "dev_requests": "exploration" if data.explores else "all",
        }
    )
    return ranker, trials
