"""The quality model on the encoder's vectors: fitted through the task with a tiny encoder,
it answers the same from handed-in vectors as from its own pass, and refuses another
encoder's vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quanzi.datasets.normalize import normalize
from quanzi.models.encoder import embed_texts, load_encoder
from quanzi.models.loading import encoder_version
from quanzi.models.quality import QualityPredictor
from quanzi.settings import Settings
from quanzi.training.tasks import TaskData
from quanzi.training.tasks_impl.quality import QualityConfig, QualityTask

# (text, tier) pairs written for this test: filler, bare verdicts, one observation, detail.
ROWS = [
    ("好好好好好", 0),
    ("嗯嗯嗯", 0),
    ("收到了", 0),
    ("还行吧", 1),
    ("不错，推荐", 1),
    ("挺好的，满意", 1),
    ("一般般，不太喜欢", 1),
    ("电池还可以，一天一充", 2),
    ("尺码偏小，建议买大一码", 2),
    ("早餐种类少，房间干净", 2),
    ("味道偏甜，包装完好", 2),
    ("用了两周，电池一天掉电40%，屏幕有两个坏点，比之前那台差远了，客服也不处理", 3),
    ("面料起球严重，洗了三次就变形了，尺码比平时穿的L小一号，不推荐", 3),
    ("房间隔音差，楼下施工到晚上十点，早餐只有面包和粥，前台态度还可以", 3),
    ("续航大概8小时，散热一般，玩游戏半小时后背面明显发热，屏幕亮度够用", 3),
]


def _frame(split: str, copies: int) -> pd.DataFrame:
    rows = []
    for k in range(copies):
        for i, (text, tier) in enumerate(ROWS):
            variant = text if k == 0 else f"{text}{'。' * k}"  # distinct texts per split copy
            variant = (
                variant if split == "train" else f"{variant}!" if split == "dev" else variant + "~"
            )
            rows.append(
                {
                    "gold_id": f"{split}-{k}-{i}",
                    "text": variant,
                    "norm": normalize(variant),
                    "tier": tier,
                    "label": i % 2,
                    "split": split,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def tiny_settings(tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("QUANZI_ENCODER", str(tiny_encoder_dir))
    return Settings()


@pytest.fixture
def fitted(tiny_settings: Settings) -> QualityPredictor:
    """The task's own fit (not ``small``: the encoder is tried) keeping the vectors."""
    data = TaskData(train=_frame("train", 3), dev=_frame("dev", 2), test=_frame("test", 1))
    config = QualityConfig(
        use_encoder="auto", min_gain=-1.0, encoder_C_grid=(1.0,), refit_on_dev=True, refit_folds=3
    )
    task = QualityTask(config)
    return task.fit(data, tiny_settings, small=False)


def test_fit_keeps_the_encoder_and_records_its_version(
    fitted: QualityPredictor, tiny_settings: Settings
) -> None:
    assert fitted.uses_vectors
    assert fitted.encoder_version == encoder_version(tiny_settings)
    assert fitted.config["dev_qwk_by_C_with_encoder"].keys() == {"1.0"}
    # refitted on train + dev; the dev figures kept are the train-only model's
    assert fitted.config["refit"]["rows"] == 3 * len(ROWS) + 2 * len(ROWS)
    assert fitted.config["dev_metrics"]["dev_qwk"] == pytest.approx(
        fitted.config["dev_qwk"], abs=1e-4
    )


def test_handed_in_vectors_answer_as_its_own_pass(
    fitted: QualityPredictor, tiny_settings: Settings
) -> None:
    records: list[dict[str, Any]] = [{"text": t} for t, _ in ROWS]
    vectors = embed_texts(load_encoder(tiny_settings), [r["text"] for r in records])
    assert fitted.predict(records, vectors=vectors) == fitted.predict(records)
    # Other vectors move the answer: the vectors really are read.
    moved = fitted.predict(records, vectors=np.roll(vectors, 1, axis=0))
    assert moved != fitted.predict(records)


def test_wrong_width_vectors_are_a_clear_error(fitted: QualityPredictor) -> None:
    with pytest.raises(ValueError, match="vectors of shape"):
        fitted.predict([{"text": "不错"}], vectors=np.zeros((1, 3), dtype=np.float32))


def test_load_refuses_a_model_of_another_encoder(
    fitted: QualityPredictor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fitted.save(tmp_path / "model")
    loaded = QualityPredictor.load(tmp_path / "model")
    assert loaded.encoder is None  # loads only when a caller hands in no vectors
    assert loaded.encoder_version == fitted.encoder_version
    records = [{"text": t} for t, _ in ROWS]
    assert loaded.predict(records) == fitted.predict(records)
    monkeypatch.setenv("QUANZI_ENCODER", "some-org/another-encoder")
    with pytest.raises(ValueError, match="retrain with `quanzi train quality`"):
        QualityPredictor.load(tmp_path / "model")
