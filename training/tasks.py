"""The contract between the MLflow pipeline and the models it trains (issue 4).

``quanzi train moderation|quality|trust|all`` runs the same steps for every task:
load data → fit → evaluate on dev (thresholds) and test → log to MLflow → register the
version with alias ``challenger``. ``quanzi promote NAME`` compares the challenger with the
champion on the task's fixed test set, or where the task's optional ``comparison_for``
says (``Comparison``). The pipeline knows tasks only through ``Task``; the service and
``quanzi score`` know models only through ``Predictor`` (``models/predictor.py``), loaded
by ``models/champions.py`` without any training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from quanzi.models.predictor import Predictor
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings


@dataclass
class TaskData:
    """Fixed splits of one task. Every frame has a ``text`` column; tasks add label and
    provenance columns of their own. ``test`` is never used for fitting or thresholds."""

    train: pd.DataFrame
    dev: pd.DataFrame
    test: pd.DataFrame
    # Extra named evaluation sets (e.g. "contact_heldout", "collateral_reviews").
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    # name → sha256 of the data that built the splits (logged as MLflow params).
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass
class Evaluation:
    """What a task reports for one predictor on one data set."""

    metrics: dict[str, float]  # flat, prefixed by set name, e.g. "test_qwk"
    figures: dict[str, Any] = field(default_factory=dict)  # file name → matplotlib Figure
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # file name → table

    @classmethod
    def merged(cls, *parts: Evaluation) -> Evaluation:
        """One evaluation from several evaluators' (later parts win on a shared name)."""
        out = cls(metrics={})
        for part in parts:
            out.metrics.update(part.metrics)
            out.figures.update(part.figures)
            out.tables.update(part.tables)
        return out


@dataclass
class Comparison:
    """What ``quanzi promote`` compares two versions on, and how.

    A task may define ``comparison_for(settings, run_params, small, load, progress=None)``
    (``run_params``: the challenger's MLflow run params) to choose this; without it
    promotion compares the task's ``gate`` on its current test sets. ``load`` is False when
    the logged metrics are compared (same test sets): then ``data`` stays None."""

    compared_on: str  # said in the gate report, e.g. "world p20000-s7-x50, …"
    # metric → (greater_is_better, tolerance) on that data: the task's ``gate``, or the same
    # gate under the metric names of another protocol (e.g. exploration requests only)
    gate: dict[str, tuple[bool, float]]
    data: TaskData | None = None


class Task(Protocol):
    """One trainable task."""

    name: str  # "moderation" | "quality" | "trust"
    registered_model: str  # "quanzi-moderation" | "quanzi-quality" | "quanzi-trust"
    primary_metric: str  # the metric promotion compares first, e.g. "test_qwk"
    # metric → (greater_is_better, tolerance): promotion refuses a challenger worse than
    # the champion by more than the tolerance on any of these.
    gate: dict[str, tuple[bool, float]]

    def load_data(
        self, settings: Settings, small: bool, progress: ProgressCallback | None = None
    ) -> TaskData:
        """The task's fixed splits (``small``: CI-sized); ``progress(stage, done, total)``
        may report the slow steps."""
        ...

    def fit(self, data: TaskData, settings: Settings, small: bool) -> Predictor:
        """Train on ``data.train``; choose thresholds on ``data.dev`` only."""
        ...

    def evaluate(self, predictor: Predictor, data: TaskData) -> Evaluation: ...

    def load(self, path: Path) -> Predictor:
        """Rebuild a predictor saved with ``Predictor.save``."""
        ...
