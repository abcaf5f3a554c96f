"""``RankerEvaluator``: the learned ranker against the weighted pipeline, recency and
popularity on a world's dev and held-out days, overall and per viewer segment.

NDCG@10 of the full pipeline with the learned scorer (author cap and MMR included) under
the eligible-set protocol (``models/ranking/offline/replay.py``) and unfiltered, plus the
position-debiased variant; on a world with exploration requests also on those only (the
unbiased headline). Metrics ``{set}_ndcg10_{method}[_{segment}]`` and
``{set}_gain_vs_{baseline}[_lo|_hi][_{segment}]``; tables ``ndcg_by_segment`` and the
model's ``weights``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from quanzi.models.ranker import LinearRanker
from quanzi.models.ranking.offline.metrics import exploration_only, paired_difference, summarise
from quanzi.models.ranking.offline.replay import evaluate_split
from quanzi.models.ranking.offline.requests import EvalRequest
from quanzi.models.ranking.params import RankingParams
from quanzi.training.tasks import Evaluation
from quanzi.training.tasks_impl.ranker_data import DaySplit, RankerData

METHODS = ("learned", "pipeline", "recency", "popularity")  # pipeline: the weighted scorer


def evaluate_days(
    days: DaySplit,
    ranker: LinearRanker | None,
    debiased: bool = False,
    protocol: str = "eligible",
    explore_only: bool = False,
) -> dict[str, dict[str, Any]]:
    """Summary per segment of the learned pipeline (if given), the weighted pipeline
    (default params), recency and popularity, under the ``eligible`` protocol (every method
    ranks the posts the policy filters keep) or ``unfiltered`` (every shown post; the
    pipelines rank the filtered ones last): ``models/ranking/offline/replay.py``.
    ``explore_only``: the exploration (random-order) requests only."""
    if protocol not in ("eligible", "unfiltered"):
        raise ValueError(f"unknown protocol {protocol!r}: eligible or unfiltered")
    methods = METHODS if ranker is not None else METHODS[1:]
    merged: dict[str, list[float | None]] = {m: [] for m in methods}
    requests: list[EvalRequest] = []
    for split in days.eligible if protocol == "eligible" else days.splits:
        ndcg = evaluate_split(
            split, RankingParams(), methods=methods, debiased=debiased, ranker=ranker
        )
        for m in merged:
            merged[m].extend(ndcg[m])
        requests.extend(split.requests)
    if explore_only:
        requests, merged = exploration_only(requests, merged)
    summary = summarise(requests, merged)
    if ranker is not None and requests:  # learned minus each other, 95 % paired interval
        for other in METHODS[1:]:
            for seg, (gain, lo, hi) in paired_difference(
                requests, merged, "learned", other
            ).items():
                summary[seg].update(
                    {f"gain_vs_{other}": gain, f"gain_vs_{other}_lo": lo, f"gain_vs_{other}_hi": hi}
                )
    return summary


def ranker_metrics(ranker: LinearRanker, data: RankerData) -> tuple[dict[str, float], pd.DataFrame]:
    """Flat metrics (``{set}_ndcg10_{method}[_{segment}]``, sets ``dev``, ``test`` and
    ``test_debiased`` under the eligible protocol, ``test_unfiltered``; on a world with
    exploration requests also ``dev_explore`` and ``test_explore``, the eligible protocol
    on those only) and the same as a table."""
    metrics: dict[str, float] = {}
    rows = []
    sets = [
        ("dev", data.dev, False, "eligible", False),
        ("test", data.test, False, "eligible", False),
        ("test_debiased", data.test, True, "eligible", False),
        ("test_unfiltered", data.test, False, "unfiltered", False),
    ]
    if data.explores:
        sets += [
            ("dev_explore", data.dev, False, "eligible", True),
            ("test_explore", data.test, False, "eligible", True),
        ]
    for set_name, days, debiased, protocol, explore_only in sets:
        if not days.splits:  # not loaded (``load_ranker_data(test_only=True)``)
            continue
        summary = evaluate_days(days, ranker, debiased, protocol, explore_only)
        for seg, row in summary.items():
            rows.append({"set": set_name, "segment": seg, **row})
            suffix = "" if seg == "all" else "_" + seg.replace("-", "_")
            for m in METHODS:
                if row.get(m) is None:
                    continue
                metrics[f"{set_name}_ndcg10_{m}{suffix}"] = float(row[m])
            for key, value in row.items():
                if key.startswith("gain_vs_"):
                    metrics[f"{set_name}_{key}{suffix}"] = float(value)
            if row.get("learned") is not None and row["requests"]:
                metrics[f"{set_name}_requests{suffix}"] = float(row["requests"])
    return metrics, pd.DataFrame(rows)


class RankerEvaluator:
    """The ranker on ``data``'s loaded days (the module docstring)."""

    name = "ranker"
    primary_metric = "test_ndcg10_learned"

    def __call__(self, ranker: LinearRanker, data: RankerData) -> Evaluation:
        metrics, table = ranker_metrics(ranker, data)
        weights = pd.DataFrame(
            {
                "feature": ranker.features,
                "weight": ranker.weights,
                "mean": ranker.mean,
                "scale": ranker.scale,
            }
        )
        return Evaluation(metrics=metrics, tables={"ndcg_by_segment": table, "weights": weights})
