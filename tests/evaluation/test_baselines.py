"""TF-IDF baselines: metrics are right, copies are caught in order, the bench runs end to end."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.datasets.moderation.contact import ContactDataConfig, build_contact_dataset
from quanzi.evaluation.baselines import (
    binary_metrics,
    collateral,
    evaluate_contact,
    fit_baseline,
    flag,
    near_duplicate_flags,
)

register_all()
runner = CliRunner()


def _corpora() -> ModuleType:
    """``tests/utils/moderation_corpora.py`` (importlib mode keeps tests/ off sys.path)."""
    return importlib.import_module("quanzi_tests.moderation_corpora")


def test_binary_metrics_match_hand_counts() -> None:
    # tp=2, fn=1, fp=1, tn=4
    m = binary_metrics([1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0, 0])
    assert m["n"] == 8 and m["positives"] == 3
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_near_duplicate_flags_only_the_later_copy() -> None:
    texts = ["物流很快，包装很好，推荐购买", "屏幕清晰，续航一般", "物流很快，包装很好，推荐购买！"]
    assert near_duplicate_flags(texts, [0, 1, 2], 0.9).tolist() == [False, False, True]
    assert near_duplicate_flags(texts, [2, 1, 0], 0.9).tolist() == [True, False, False]


def test_fit_refuses_a_single_class_training_set() -> None:
    with pytest.raises(ValueError, match="single class"):
        fit_baseline(["好", "不错"], [0, 0])


def test_baseline_learns_a_separable_task() -> None:
    texts = [f"加我微信{i}号" for i in range(30)] + [f"衣服第{i}次买很好" for i in range(30)]
    model = fit_baseline(texts, [1] * 30 + [0] * 30)
    assert flag(model, ["加我微信99号", "衣服第99次买很好"]).tolist() == [True, False]


def test_contact_evaluation_reports_groups_systems_and_lookalikes() -> None:
    hosts = _corpora().review_frame()
    contact = build_contact_dataset(
        hosts, ContactDataConfig(seed=1, n_train=500, n_dev=50, n_test=70)
    )
    results, _ = evaluate_contact(contact)
    for system in ("baseline", "detectors", "baseline_or_detectors"):
        per = results[system]
        assert per["heldout_transforms"]["n"] > 0 and per["train_transforms"]["n"] > 0
        assert 0.0 <= per["all"]["recall"] <= 1.0
        assert per["fp_rate_by_lookalike"]
    # Either system flags at least what each flags alone.
    assert results["baseline_or_detectors"]["all"]["recall"] >= max(
        results["baseline"]["all"]["recall"], results["detectors"]["all"]["recall"]
    )


def test_collateral_shares_per_group_and_overall() -> None:
    reviews = pd.DataFrame(
        {
            "corpus": ["online_shopping", "online_shopping", "waimai", "hotel"],
            "category": ["书籍", "书籍", "外卖", "酒店"],
            "text": ["a", "b", "c", "d"],
            "norm": ["a", "b", "c", "d"],
        }
    )
    table = collateral(reviews, {"x": lambda df: np.array([True, False, True, False])})
    assert table["书籍"] == {"n": 2, "x": 0.5, "any": 0.5}
    assert table["外卖 (waimai_10k)"]["x"] == 1.0
    assert table["ALL"]["x"] == 0.5


def test_bench_cli_runs_end_to_end_on_tiny_corpora(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _corpora().write_tiny_corpora(tmp_path / "corpora")
    monkeypatch.setenv("QUANZI_CORPORA_DIR", str(root))
    out = tmp_path / "baselines.json"
    result = runner.invoke(app, ["bench", "baselines", "--small", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Moderation baselines" in result.output and "Collateral" in result.output
    results = json.loads(out.read_text(encoding="utf-8"))
    assert {
        "offensive",
        "ad",
        "spam",
        "contact",
        "detector_recall_per_transform",
        "collateral",
        "meta",
    } <= set(results)
    assert results["offensive"]["official"]["n"] > 0
    assert results["ad"]["sms_strat_70_30"]["n"] > 0
    assert "ALL" in results["collateral"]


def test_bench_cli_without_corpora_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_CORPORA_DIR", str(tmp_path / "missing"))
    result = runner.invoke(app, ["bench", "baselines", "--small"])
    assert result.exit_code == 2
    assert "QUANZI_CORPORA_DIR" in result.output
