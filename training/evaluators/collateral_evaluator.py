"""``CollateralEvaluator``: what the moderation model does to real reviews.

Real review test texts (``data.extra["collateral_reviews"]``: no set trains or tunes on
them) hold almost no violations, so every reject there is collateral damage. Metrics
``collateral_reject_rate`` and ``collateral_review_rate``; tables ``collateral.csv`` (per
review group, and per label that rejected) and ``collateral_rejected.csv`` (the rejected
texts, for reading by hand).
"""

from __future__ import annotations

import pandas as pd

from quanzi.datasets.moderation.hosts import review_group
from quanzi.models.moderation.policy import LABELS
from quanzi.models.moderation.predictor import ModerationPredictor
from quanzi.training.tasks import Evaluation, TaskData


class CollateralEvaluator:
    """Share of real review test texts rejected / sent to review, per category."""

    name = "collateral"

    def __call__(self, predictor: ModerationPredictor, data: TaskData) -> Evaluation:
        reviews = data.extra.get("collateral_reviews", pd.DataFrame())
        if len(reviews) == 0:
            return Evaluation(
                metrics={},
                tables={
                    "collateral.csv": pd.DataFrame(),
                    "collateral_rejected.csv": pd.DataFrame(),
                },
            )
        out = predictor.predict([{"text": t} for t in reviews["text"]])
        frame = pd.DataFrame(
            {
                "group": [
                    review_group(c, k)
                    for c, k in zip(reviews["corpus"], reviews["category"], strict=True)
                ],
                "decision": [o["decision"] for o in out],
                "reject_labels": [
                    "+".join(e["label"] for e in o["labels"] if e["band"] == "reject") for o in out
                ],
            }
        )
        table = []
        for group, part in [*frame.groupby("group", sort=True), ("ALL", frame)]:
            row = {
                "group": group,
                "n": len(part),
                "reject": float((part["decision"] == "reject").mean()),
                "review": float((part["decision"] == "review").mean()),
            }
            for label in LABELS:
                row[f"reject_{label}"] = float(part["reject_labels"].str.contains(label).mean())
            table.append(row)
        metrics = {
            f"{self.name}_reject_rate": float((frame["decision"] == "reject").mean()),
            f"{self.name}_review_rate": float((frame["decision"] == "review").mean()),
        }
        rejected = reviews.assign(group=frame["group"], labels=frame["reject_labels"])[
            frame["decision"].to_numpy() == "reject"
        ]
        rejected = rejected[
            [
                c
                for c in ("group", "labels", "corpus", "row", "label", "text")
                if c in rejected.columns
            ]
        ]
        return Evaluation(
            metrics=metrics,
            tables={
                "collateral.csv": pd.DataFrame(table),
                "collateral_rejected.csv": rejected.reset_index(drop=True),
            },
        )
