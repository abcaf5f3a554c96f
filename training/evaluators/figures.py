"""Evaluation figures every task logs the same way: confusion matrices and PR curves.

Figures are built on matplotlib's object API with the Agg backend (no display, no global
pyplot state), so training runs headless and in parallel tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, confusion_matrix


def figure(width: float, height: float) -> Figure:
    """An empty figure drawn by Agg (what every task's own figures start from too)."""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def confusion_figure(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    labels: Sequence[Any],
    title: str,
    *,
    display_labels: Sequence[str] | None = None,
    truth: str = "true label",
    prediction: str = "predicted label",
) -> Figure:
    """A labelled confusion matrix (rows: ``truth``, columns: ``prediction``) with counts."""
    matrix = confusion_matrix(list(y_true), list(y_pred), labels=list(labels))
    size = max(3.5, 0.7 * len(labels) + 2.0)
    fig = figure(size, size)
    ax = fig.add_subplot()
    names = [str(x) for x in (labels if display_labels is None else display_labels)]
    ConfusionMatrixDisplay(matrix, display_labels=names).plot(
        ax=ax, colorbar=False, values_format="d"
    )
    ax.set_xlabel(prediction)
    ax.set_ylabel(truth)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def pr_curves_figure(
    y_true: Mapping[str, Sequence[int]], scores: Mapping[str, Sequence[float]], title: str
) -> Figure:
    """Precision–recall curves, one per label (binary truth and score per label)."""
    fig = figure(5.0, 4.0)
    ax = fig.add_subplot()
    for label, truth in y_true.items():
        truth_arr = np.asarray(truth, dtype=int)
        if truth_arr.min(initial=0) == truth_arr.max(initial=0):
            continue  # a curve needs both classes
        PrecisionRecallDisplay.from_predictions(
            truth_arr, np.asarray(scores[label]), name=str(label), ax=ax
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig
