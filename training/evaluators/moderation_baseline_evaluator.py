"""``ModerationBaselineEvaluator``: the char 1–3-gram TF-IDF + LR baseline
(``models/baseline.py``) fitted on the same train rows and scored on the same test sets.

Metrics ``baseline_test_{label}_{metric}`` and ``baseline_{subset}_{metric}``; for spam
the baseline has its own copy detector (TF-IDF cosine ≥ 0.9 to an earlier post). The
table ``baseline`` (one row per label) joins the label evaluator's summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from quanzi.models.baseline import fit_baseline, near_duplicate_flags
from quanzi.models.moderation.predictor import ModerationPredictor
from quanzi.training.evaluators.moderation_label_evaluator import binary_metrics, named_subsets
from quanzi.training.tasks import Evaluation, TaskData


class ModerationBaselineEvaluator:
    """The baseline on the same rows as the model (the module docstring)."""

    name = "baseline"

    def __call__(self, predictor: ModerationPredictor, data: TaskData) -> Evaluation:
        metrics: dict[str, float] = {}
        rows = []
        for label in tqdm(predictor.learned, desc="baseline", leave=False):
            train = data.train[(data.train["task"] == label) & (data.train["kind"] != "copy_paste")]
            test = data.test[data.test["task"] == label].reset_index(drop=True)
            model = fit_baseline(train["norm"], train["label"])
            score = model.predict_proba(test["norm"].tolist())[:, 1]
            if label == "spam":  # the baseline's own near-dup: TF-IDF cosine ≥ 0.9
                dup = near_duplicate_flags(test["norm"].tolist(), test["order"], 0.9)
                score = np.where(dup, 1.0, np.where(test["kind"] == "copy_paste", 0.0, score))
            y = test["label"].to_numpy()
            result = binary_metrics(y, score >= 0.5)
            for k, v in result.items():
                metrics[f"baseline_test_{label}_{k}"] = v
            for sub, mask in named_subsets(label, test).items():
                for k, v in binary_metrics(y[mask], score[mask] >= 0.5).items():
                    metrics[f"baseline_{sub}_{k}"] = v
            rows.append(
                {
                    "label": label,
                    **{
                        f"baseline_{k}": result[k]
                        for k in ("accuracy", "precision", "recall", "f1", "macro_f1")
                    },
                }
            )
        return Evaluation(metrics=metrics, tables={"baseline": pd.DataFrame(rows)})
