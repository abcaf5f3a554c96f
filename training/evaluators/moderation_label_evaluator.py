"""``ModerationLabelEvaluator``: each learned label on its test rows, at every cut.

Per label: accuracy, precision, recall, F1 and macro-F1 at the 0.5 score and at the
review and reject bands (``test_{label}_[review_|reject_]{metric}``), the same on the
anchor-comparable subsets inside the label's test rows (``named_subsets``: SMS
stratified, disguised ads, held-out contact obfuscations, filler and copies, COLD test),
the thresholds in force, the false-positive rate on contact look-alikes, a confusion
matrix and a precision–recall curve per label; the primary ``test_mean_f1``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    PrecisionRecallDisplay,
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)

from quanzi.models.moderation.policy import LabelThresholds
from quanzi.models.moderation.predictor import ModerationPredictor, stream_near_duplicates
from quanzi.training.evaluators.figures import confusion_figure, figure
from quanzi.training.tasks import Evaluation, TaskData


def binary_metrics(y: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1 of the positive class and macro-F1."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(flags, dtype=int)
    if len(y) == 0:
        return {"n": 0.0}
    return {
        "n": float(len(y)),
        "accuracy": float(accuracy_score(y, p)),
        "precision": float(precision_score(y, p, zero_division=0)),
        "recall": float(recall_score(y, p, zero_division=0)),
        "f1": float(f1_score(y, p, zero_division=0)),
        "macro_f1": float(f1_score(y, p, average="macro", zero_division=0)),
    }


def test_scores(
    predictor: ModerationPredictor,
    label: str,
    rows: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """The label's probability and band level (0/1/2) as the decision sees them;
    spam counts a near-copy of an earlier post of the stream as 1."""
    if len(rows) == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    probs, _, _ = predictor.scores(rows["text"].tolist())
    if label == "spam":
        sims = stream_near_duplicates(rows["norm"].tolist(), rows["order"].tolist())
        probs["spam"] = np.where(sims >= predictor.dup_threshold, 1.0, probs["spam"])
    return probs[label], predictor.bands(probs)[label]


def named_subsets(label: str, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The extra named sets inside a label's test rows (anchor-comparable ones)."""
    neg = (rows["label"] == 0).to_numpy()
    if label == "ad":
        return {
            "sms_strat": (rows["source"] == "sms").to_numpy(),
            "disguised_ads": (rows["source"] == "review").to_numpy(),
        }
    if label == "contact":
        return {
            "contact_heldout": neg | (rows["group"] == "heldout").to_numpy(),
            "contact_train_transforms": neg | (rows["group"] == "train").to_numpy(),
        }
    if label == "spam":
        kind = rows["kind"]
        return {
            "spam_filler": (kind != "copy_paste").to_numpy(),
            "spam_copies": kind.isin(("copy_paste", "real")).to_numpy(),
        }
    if label == "offensive":
        return {"cold_test": (rows["kind"] == "cold").to_numpy()}
    return {}  # fraud / gambling / sexual: their test rows are the adversarial split


def threshold_pr_figure(
    y: np.ndarray, score: np.ndarray, label: str, th: LabelThresholds
) -> Figure:
    """The label's test precision–recall curve with its review and reject thresholds."""
    fig = figure(4.5, 4)
    ax = fig.add_subplot()
    if len(set(y.tolist())) == 2:
        PrecisionRecallDisplay.from_predictions(y, score, ax=ax, name=label)
        for name, cut, color in (("review", th.review, "orange"), ("reject", th.reject, "red")):
            flags = score >= cut
            if flags.any():
                ax.scatter(
                    [recall_score(y, flags)],
                    [precision_score(y, flags)],
                    color=color,
                    label=f"{name} ≥ {cut:.3f}",
                    zorder=3,
                )
        ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"{label}: test precision-recall", fontsize=9)
    fig.tight_layout()
    return fig


class ModerationLabelEvaluator:
    """Every learned label on its test rows (the module docstring); the table
    ``summary.csv`` has one row per label."""

    name = "test"
    primary_metric = "test_mean_f1"

    def __call__(self, predictor: ModerationPredictor, data: TaskData) -> Evaluation:
        metrics: dict[str, float] = {}
        figures: dict[str, Figure] = {}
        test = data.test
        summary_rows = []
        f1s = []
        for label in predictor.learned:
            rows = test[test["task"] == label].reset_index(drop=True)
            score, level = test_scores(predictor, label, rows)
            th = predictor.thresholds[label]
            y = rows["label"].to_numpy(dtype=int)
            cuts = {"": score >= 0.5, "review_": level >= 1, "reject_": level >= 2}
            for cut_name, flags in cuts.items():
                for k, v in binary_metrics(y, flags).items():
                    metrics[f"test_{label}_{cut_name}{k}"] = v
            f1s.append(metrics[f"test_{label}_f1"])
            figures[f"confusion_{label}.png"] = confusion_figure(
                y,
                (level >= 2).astype(int),
                [0, 1],
                f"{label}: test, reject band (threshold {th.reject:.3f})",
            )
            figures[f"pr_{label}.png"] = threshold_pr_figure(y, score, label, th)
            metrics[f"threshold_{label}_review"] = th.review
            metrics[f"threshold_{label}_reject"] = th.reject
            for sub, mask in named_subsets(label, rows).items():
                for cut_name, flags in cuts.items():
                    for k, v in binary_metrics(y[mask], flags[mask]).items():
                        metrics[f"{sub}_{cut_name}{k}"] = v
            summary_rows.append(
                {
                    "label": label,
                    "n": len(y),
                    **{
                        k: metrics[f"test_{label}_{k}"]
                        for k in ("accuracy", "precision", "recall", "f1", "macro_f1")
                    },
                }
            )
        metrics[self.primary_metric] = float(np.mean(f1s))
        metrics["dup_threshold"] = predictor.dup_threshold
        contact = test[test["task"] == "contact"].reset_index(drop=True)
        score, level = test_scores(predictor, "contact", contact)
        looks = (contact["kind"] == "lookalike").to_numpy()
        for name, flags in (("review", level >= 1), ("reject", level >= 2), ("flag", score >= 0.5)):
            metrics[f"lookalike_fp_rate_{name}"] = (
                float(flags[looks].mean()) if looks.any() else 0.0
            )
        return Evaluation(
            metrics=metrics, figures=figures, tables={"summary.csv": pd.DataFrame(summary_rows)}
        )
