"""The quality task on a CI-sized slice of the real gold set: fit, evaluate, save, load.

The gold set's texts live in the shared corpora, so these tests read them (read-only);
all state goes to a temporary data directory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from quanzi.models.quality import QualityPredictor, tier_from_score
from quanzi.settings import Settings
from quanzi.training.tasks import Evaluation, TaskData
from quanzi.training.tasks_impl.quality import (
    QualityTask,
    assert_test_unused,
    quadratic_kappa,
    tune_cuts,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small task fitted and evaluated once for the module."""
    data_dir = tmp_path_factory.mktemp("quanzi-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUANZI_DATA_DIR", str(data_dir))  # the corpus cache lands here too
        settings = Settings(data_dir=data_dir)
        task = QualityTask()
        data = task.load_data(settings, small=True)
        predictor = task.fit(data, settings, small=True)
        evaluation = task.evaluate(predictor, data)
    return {"task": task, "data": data, "predictor": predictor, "evaluation": evaluation}


def test_small_run_reports_prefixed_metrics_and_baseline(trained: dict[str, Any]) -> None:
    evaluation: Evaluation = trained["evaluation"]
    task: QualityTask = trained["task"]
    for name in (
        task.primary_metric,
        *task.gate,
        "baseline_test_qwk",
        "dev_qwk",
        "test_score_mean_detailed_negative",
        "test_score_mean_detailed_positive",
    ):
        assert name in evaluation.metrics, name
        assert math.isfinite(evaluation.metrics[name])
    assert "confusion_test.png" in evaluation.figures
    assert set(evaluation.tables["score_by_sentiment_test"]["group"]) >= {
        "detailed_negative",
        "detailed_positive",
    }
    # Even the small model must beat chance agreement on the gold test slice.
    assert evaluation.metrics["test_qwk"] > 0.3


def test_gold_test_items_never_in_training_frame(trained: dict[str, Any]) -> None:
    data: TaskData = trained["data"]
    assert not set(data.train["gold_id"]) & set(data.test["gold_id"])
    assert not set(data.train["norm"]) & set(data.test["norm"])
    assert set(data.test["split"]) == {"test"} and "test" not in set(data.train["split"])


def test_fit_refuses_training_frame_holding_gold_test(trained: dict[str, Any]) -> None:
    data: TaskData = trained["data"]
    leaky = TaskData(train=pd.concat([data.train, data.test.head(3)]), dev=data.dev, test=data.test)
    with pytest.raises(ValueError, match="test split must stay unseen"):
        assert_test_unused(leaky.train, leaky.test)
    with pytest.raises(ValueError, match="test split must stay unseen"):
        trained["task"].fit(leaky, Settings(data_dir=Path("/nonexistent")), small=True)


def test_save_load_round_trip_predicts_identically_without_pickles(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    predictor: QualityPredictor = trained["predictor"]
    predictor.save(tmp_path / "model")
    files = {p.suffix for p in (tmp_path / "model").rglob("*") if p.is_file()}
    assert files <= {".json", ".safetensors"}
    loaded = trained["task"].load(tmp_path / "model")
    records = [{"text": t} for t in trained["data"].test["text"].head(60)]
    assert loaded.predict(records) == predictor.predict(records)


def test_scores_lie_in_unit_interval_and_tiers_follow_dev_cuts(trained: dict[str, Any]) -> None:
    predictor: QualityPredictor = trained["predictor"]
    out = predictor.predict([{"text": t} for t in trained["data"].test["text"]])
    scores = np.array([o["score"] for o in out])
    assert ((scores >= 0) & (scores <= 1)).all()
    tiers = [o["tier"] for o in out]
    assert tiers == tier_from_score(scores, predictor.cuts).tolist()
    assert len(set(tiers)) >= 3  # not collapsed to one tier


def test_filler_scores_below_detailed_complaint(trained: dict[str, Any]) -> None:
    filler, detailed = trained["predictor"].predict(
        [
            {"text": "好好好好好好"},
            {"text": "电池不耐用，充满电三个小时就没电了，屏幕有两个坏点，和之前用的那台比差远了"},
        ]
    )
    assert filler["score"] < detailed["score"]
    assert filler["tier"] < detailed["tier"]


def test_record_without_text_is_a_clear_error(trained: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="record 1: 'text' must be a string"):
        trained["predictor"].predict([{"text": "不错"}, {"author": {}}])


def test_quadratic_kappa_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    p[:200] = y[:200]
    assert quadratic_kappa(y, p) == pytest.approx(cohen_kappa_score(y, p, weights="quadratic"))


def test_tuned_cuts_are_increasing_and_beat_default_cuts() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    expected = np.clip(0.6 * y + 0.4 + rng.normal(0, 0.3, 400), 0, 3)  # squeezed scale
    cuts, best = tune_cuts(y, expected)
    assert cuts == sorted(cuts) and len(cuts) == 3
    assert best >= quadratic_kappa(y, np.digitize(expected, [0.5, 1.5, 2.5]))
