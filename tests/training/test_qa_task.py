"""The Q&A models as an MLflow task: ``quanzi-qa`` is trained, logged, registered,
promoted through the gate and loaded back as the champion the service serves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from quanzi.models.champions import load_champion, load_version
from quanzi.models.loading import load_task
from quanzi.models.qa.predictor import QAPredictor
from quanzi.settings import Settings
from quanzi.training.pipeline import train
from quanzi.training.promotion import promote
from quanzi.training.qa_question_encoder import QuestionEncoderConfig
from quanzi.training.tasks_impl.qa import QATask


@pytest.fixture(scope="module")
def qa_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir whose demo world is a 400-post one (64 questions with invites)."""
    from quanzi.datasets.world.build import build_world

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("qa-task"), env="test", demo_posts=400, demo_seed=3
    )
    build_world(settings, 400, 3, progress=False)
    return settings


def test_qa_models_train_register_promote_and_load_as_champion(qa_settings: Settings) -> None:
    first = train(QATask(), qa_settings, small=True)
    assert first.version == "1"
    for name in ("test_non_answer_f1", "test_answer_ndcg3", "test_invite_answer_auc"):
        assert math.isfinite(first.metrics[name])
    assert first.metrics["test_non_answer_f1"] > 0.7  # the hand-written test split
    assert promote(qa_settings, "quanzi-qa").decision == "first"

    champion = load_champion(qa_settings, "qa")
    assert isinstance(champion, QAPredictor)
    out = champion.predict(
        [
            {"question": "电池能用多久？", "text": "不知道，还没用"},
            {
                "question": "电池能用多久？",
                "text": "正常用一天半，打游戏一天",
                "author_bought": True,
            },
        ]
    )
    assert out[0]["non_answer"] > out[1]["non_answer"]
    assert out[0]["is_non_answer"]

    # a second run on the same data passes the gate (not worse) and becomes the champion
    second = train(QATask(), qa_settings, small=True)
    result = promote(qa_settings, "qa")
    assert (result.decision, result.challenger) == ("passed", second.version)
    served = load_task(qa_settings, "qa")
    assert served.version == second.version and isinstance(served.predictor, QAPredictor)


def test_a_missing_world_is_refused_before_mlflow_is_touched(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, env="test", demo_posts=400, demo_seed=99)
    with pytest.raises(FileNotFoundError):
        train(QATask(), settings, small=True)
    assert not (tmp_path / "mlflow.db").exists()


def test_the_question_encoder_is_fine_tuned_logged_and_served_from_the_champion(
    qa_settings: Settings, tiny_encoder_dir: Path
) -> None:
    task = QATask(
        question_base=str(tiny_encoder_dir),
        question_config=QuestionEncoderConfig(epochs=1, batch_size=64),
    )
    trained = train(task, qa_settings, small=True)
    for name in ("test_similar_r5", "dev_similar_r5", "test_similar_r5_tfidf"):
        assert 0.0 <= trained.metrics[name] <= 1.0
    assert trained.metrics["test_similar_r5"] == trained.metrics["test_similar_r5_question"]

    predictor = load_version(qa_settings, "qa", trained.version)
    assert isinstance(predictor, QAPredictor) and predictor.has_question_encoder
    vectors = predictor.embed_questions(["电池能用多久？", "续航怎么样", "屏幕清楚吗"])
    assert vectors.shape == (3, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
