"""The predictors' folder format: sentence-transformers' module list, refusing foreign types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quanzi.models.moderation.linear import FeatureBlock, LinearConfig, LinearTextClassifier
from quanzi.models.moderation.policy import LabelThresholds
from quanzi.models.moderation.predictor import LEARNED, ModerationPredictor
from quanzi.models.module_stack import MODULES_FILE, load_modules, save_modules

TEXTS = ["加我微信", "物流很快", "私聊有优惠", "包装完好", "加我vx", "味道不错"] * 5
LABELS = [1, 0, 1, 0, 1, 0] * 5


def _classifier() -> LinearTextClassifier:
    config = LinearConfig(blocks=(FeatureBlock(min_df=1),))
    return LinearTextClassifier(config).fit(TEXTS, LABELS)


def test_modules_save_in_order_with_a_sentence_transformers_manifest(tmp_path: Path) -> None:
    modules = {"ad": _classifier(), "spam": _classifier()}
    save_modules(tmp_path, modules)
    manifest = json.loads((tmp_path / MODULES_FILE).read_text())
    assert [(e["idx"], e["name"], e["path"]) for e in manifest] == [
        (0, "ad", "ad"),
        (1, "spam", "spam"),
    ]
    assert {e["type"] for e in manifest} == {"quanzi.models.moderation.linear.LinearTextClassifier"}
    loaded = load_modules(tmp_path)
    assert list(loaded) == ["ad", "spam"]
    assert loaded["ad"].predict_proba(TEXTS).tolist() == modules["ad"].predict_proba(TEXTS).tolist()


def test_a_manifest_naming_another_type_or_folder_is_refused(tmp_path: Path) -> None:
    save_modules(tmp_path, {"ad": _classifier()})
    manifest = json.loads((tmp_path / MODULES_FILE).read_text())
    (tmp_path / MODULES_FILE).write_text(json.dumps([{**manifest[0], "type": "os.system"}]))
    with pytest.raises(ValueError, match=r"os\.system"):
        load_modules(tmp_path)
    (tmp_path / MODULES_FILE).write_text(json.dumps([{**manifest[0], "path": "../elsewhere"}]))
    with pytest.raises(ValueError, match="leaves the model folder"):
        load_modules(tmp_path)


def test_a_moderation_model_saved_before_the_module_list_still_loads(tmp_path: Path) -> None:
    predictor = ModerationPredictor(
        {label: _classifier() for label in LEARNED},
        {label: LabelThresholds(0.5, 0.9) for label in LEARNED},
    )
    predictor.save(tmp_path)
    assert (tmp_path / MODULES_FILE).is_file()
    records = [{"text": t} for t in TEXTS[:6]]
    # The format-1 layout: the same folders, no module list.
    (tmp_path / MODULES_FILE).unlink()
    config = json.loads((tmp_path / "moderation.json").read_text())
    (tmp_path / "moderation.json").write_text(json.dumps({**config, "format_version": 1}))
    assert ModerationPredictor.load(tmp_path).predict(records) == predictor.predict(records)
