"""Small real tasks for pipeline tests: logistic regression on three character counts.

Posts containing a digit run (a phone number) are the positive class, so the model
really learns (test accuracy near 1.0); ``degrade=True`` trains on shuffled labels, a
model that is worse on purpose (accuracy near 0.5) for the promotion gate. Predictors
save as JSON + safetensors like the real ones, and answer in the scoring schema of
their ``kind`` (moderation / quality / trust).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file
from sklearn.linear_model import LogisticRegression

from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.evaluators.figures import confusion_figure, pr_curves_figure
from quanzi.training.tasks import Evaluation, TaskData

WORDS = [
    "物流很快",
    "包装完好",
    "味道不错",
    "质量很好",
    "客服耐心",
    "尺码合适",
    "颜色正",
    "性价比高",
    "下次还买",
    "有点小贵",
    "做工精细",
    "发货及时",
]


def features(texts: list[str]) -> np.ndarray:
    """(n, 3): length / 50, digit count / 11, ASCII-letter count / 10."""
    rows = [
        [
            len(t) / 50,
            sum(c.isdigit() for c in t) / 11,
            sum(c.isascii() and c.isalpha() for c in t) / 10,
        ]
        for t in texts
    ]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = "，".join(rng.sample(WORDS, rng.randint(2, 4)))
        label = i % 2
        if label:
            text += f" 加我 1{rng.randint(3, 9)}{rng.randint(10**8, 10**9 - 1)}"
        rows.append(
            {
                "text": text,
                "label": label,
                "circle_id": f"c{i % 3}",
                "author": {"followers": rng.randint(0, 1000)},
                "verified_purchase": bool(i % 3),
            }
        )
    return pd.DataFrame(rows)


class CharCountPredictor:
    def __init__(self, name: str, kind: str, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.name, self.kind, self.coef, self.intercept = name, kind, coef, intercept

    def probs(self, texts: list[str]) -> np.ndarray:
        z = features(texts) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for p in self.probs([r["text"] for r in records]).tolist():
            if self.kind == "moderation":
                labels = [{"label": "contact", "prob": p, "spans": []}] if p >= 0.5 else []
                out.append({"decision": "reject" if p >= 0.5 else "pass", "labels": labels})
            elif self.kind == "quality":
                out.append({"score": 1 - p, "tier": "low" if p >= 0.5 else "good"})
            else:
                out.append(
                    {
                        "level": "L5" if p >= 0.5 else "L3",
                        "probs": {"L3": 1 - p, "L5": p},
                        "reasons": ["digits"],
                    }
                )
        return out

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps({"name": self.name, "kind": self.kind}))
        save_file({"coef": self.coef, "intercept": self.intercept}, str(path / "model.safetensors"))


class CharCountTask:
    primary_metric = "test_accuracy"

    def __init__(
        self,
        name: str = "fake",
        kind: str = "moderation",
        registered_model: str | None = None,
        degrade: bool = False,
        test_seed: int = 3,
    ) -> None:
        self.name, self.kind, self.degrade, self.test_seed = name, kind, degrade, test_seed
        self.registered_model = registered_model or f"quanzi-{name}"
        self.gate = {"test_accuracy": (True, 0.02), "test_log_loss": (False, 0.05)}
        self.config = {"features": ["length", "digits", "latin"], "degrade": degrade}

    def load_data(
        self, settings: Settings, small: bool, progress: ProgressCallback | None = None
    ) -> TaskData:
        test = make_frame(60, self.test_seed)
        return TaskData(
            train=make_frame(40 if small else 120, 1),
            dev=make_frame(40, 2),
            test=test,
            hashes={"synthetic": f"seed-{self.test_seed}"},
        )

    def fit(self, data: TaskData, settings: Settings, small: bool) -> CharCountPredictor:
        y = data.train["label"].to_numpy()
        if self.degrade:
            y = np.random.default_rng(0).permutation(y)
        lr = LogisticRegression(C=10.0).fit(features(data.train["text"].tolist()), y)
        return CharCountPredictor(
            self.registered_model,
            self.kind,
            lr.coef_[0].astype(np.float32),
            lr.intercept_.astype(np.float32),
        )

    def evaluate(self, predictor: CharCountPredictor, data: TaskData) -> Evaluation:
        metrics: dict[str, float] = {}
        figures: dict[str, Any] = {}
        for split, frame in (("dev", data.dev), ("test", data.test)):
            p = predictor.probs(frame["text"].tolist())
            y = frame["label"].to_numpy()
            pred = (p >= 0.5).astype(int)
            metrics[f"{split}_accuracy"] = float((pred == y).mean())
            clipped = np.clip(p, 1e-6, 1 - 1e-6)
            metrics[f"{split}_log_loss"] = float(
                -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
            )
            if split == "test":  # figures cost ~0.4 s each: one set is enough here
                figures["test_confusion.png"] = confusion_figure(y, pred, [0, 1], "test confusion")
                figures["test_pr.png"] = pr_curves_figure({"contact": y}, {"contact": p}, "test PR")
        errors = data.test.assign(prob=predictor.probs(data.test["text"].tolist()))
        return Evaluation(
            metrics=metrics,
            figures=figures,
            tables={"test_predictions": errors[["text", "label", "prob"]]},
        )

    def load(self, path: Path) -> CharCountPredictor:
        config = json.loads((path / "config.json").read_text())
        weights = load_file(str(path / "model.safetensors"))
        return CharCountPredictor(
            config["name"], config["kind"], weights["coef"], weights["intercept"]
        )


_TEMPLATE: dict[str, Path] = {}


def mlflow_store(data_dir: Path, template_root: Path) -> None:
    """Put an empty, migrated MLflow SQLite store into ``data_dir``.

    MLflow migrates a new SQLite store in 10+ s; the first call pays that once per test
    process into ``template_root`` and every call after copies the file (milliseconds),
    so each test still gets a store of its own.
    """
    import shutil

    from mlflow import MlflowClient

    if "db" not in _TEMPLATE:
        template = template_root / "mlflow-template.db"
        uri = f"sqlite:///{template}"
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
        _TEMPLATE["db"] = template
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE["db"], data_dir / "mlflow.db")


def fake_product(settings: Settings, monkeypatch: Any, template_root: Path) -> Settings:
    """An empty MLflow store and the three product tasks replaced by small real ones."""
    from quanzi.training.task_registry import TASKS

    mlflow_store(settings.data_dir, template_root)
    for kind in ("moderation", "quality", "trust"):
        monkeypatch.setitem(TASKS, kind, CharCountTask(name=kind, kind=kind))
    return settings
