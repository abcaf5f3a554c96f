"""The trust task on a small circle world (2k posts from the shared corpora): fit,
evaluate, save, load, levels, reasons. All state goes to a temporary data directory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quanzi.models.trust import LEVELS, TrustPredictor
from quanzi.settings import Settings
from quanzi.training.tasks import Evaluation, TaskData
from quanzi.training.tasks_impl.trust import TrustTask, records_of, without_history


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("quanzi-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUANZI_DATA_DIR", str(data_dir))
        settings = Settings(data_dir=data_dir)
        task = TrustTask()
        data = task.load_data(settings, small=True)
        predictor = task.fit(data, settings, small=True)
        evaluation = task.evaluate(predictor, data)
    return {
        "task": task,
        "data": data,
        "predictor": predictor,
        "evaluation": evaluation,
        "settings": settings,
    }


def test_small_run_reports_model_and_both_baselines(trained: dict[str, Any]) -> None:
    evaluation: Evaluation = trained["evaluation"]
    task: TrustTask = trained["task"]
    for name in (
        task.primary_metric,
        *task.gate,
        "baseline_text_test_macro_f1",
        "baseline_provenance_test_macro_f1",
        "test_nohistory_accuracy",
        *(f"test_f1_L{k}" for k in LEVELS),
    ):
        assert name in evaluation.metrics, name
        assert math.isfinite(evaluation.metrics[name])
    assert {"confusion_test.png", "pr_per_level_test.png"} <= set(evaluation.figures)
    # Text and provenance together beat either alone.
    m = evaluation.metrics
    assert m["test_macro_f1"] > m["baseline_text_test_macro_f1"]
    assert m["test_macro_f1"] > m["baseline_provenance_test_macro_f1"]


def test_splits_never_share_a_text(trained: dict[str, Any]) -> None:
    data: TaskData = trained["data"]
    train, test = set(data.train["text"]), set(data.test["text"])
    assert not train & test
    assert len(data.test) > 50 and set(data.test["level"]) <= set(LEVELS)


def test_history_counts_only_earlier_posts(trained: dict[str, Any]) -> None:
    data: TaskData = trained["data"]
    frame = data.train
    counts = [a["post_count"] for a in frame["author"]]
    assert min(counts) == 0 and max(counts) > 0
    assert all(0.0 <= a["verified_share"] <= 1.0 for a in frame["author"])
    assert not any("post_count" in a for a in without_history(frame.head(5))["author"])


def test_base_levels_only_l2_to_l6_with_probabilities(trained: dict[str, Any]) -> None:
    out = trained["predictor"].predict(records_of(trained["data"].test))
    assert {o["level"] for o in out} <= {f"L{k}" for k in LEVELS}
    for o in out:
        assert list(o["probs"]) == [f"L{k}" for k in LEVELS]  # never L1: no viewer lift
        assert sum(o["probs"].values()) == pytest.approx(1.0, abs=1e-3)
        assert o["level"] == max(o["probs"], key=o["probs"].get)


def test_reasons_present_readable_and_sorted(trained: dict[str, Any]) -> None:
    merchant_ad = {
        "text": "【暖源】双十一大促，全场热水器直降500元，到店更有好礼相送，详询热线",
        "author": {
            "kind": "merchant",
            "follower_count": 80000,
            "is_brand_account": True,
            "account_age_days": 900,
        },
        "verified_purchase": False,
    }
    out = trained["predictor"].predict([merchant_ad, {"text": "还行"}])
    for o in out:
        reasons = o["reasons"]
        assert 1 <= len(reasons) <= 4
        weights = [abs(r["contribution"]) for r in reasons]
        assert weights == sorted(weights, reverse=True)
        assert all(r["reason"] and r["signal"] for r in reasons)
    assert out[0]["level"] in ("L4", "L5")
    assert any("merchant account" in r["reason"] for r in out[0]["reasons"])


def test_save_load_round_trip_predicts_identically_without_pickles(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    predictor: TrustPredictor = trained["predictor"]
    predictor.save(tmp_path / "model")
    assert {p.suffix for p in (tmp_path / "model").rglob("*") if p.is_file()} <= {
        ".json",
        ".safetensors",
    }
    loaded = trained["task"].load(tmp_path / "model")
    records = records_of(trained["data"].test.head(80))
    assert loaded.predict(records) == predictor.predict(records)
    assert np.allclose(loaded.proba(records), predictor.proba(records))


def test_bad_author_is_a_clear_error(trained: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="'author' must be an object"):
        trained["predictor"].predict([{"text": "不错", "author": "u1"}])
