"""The Q&A evaluation's metrics on hand-made rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from quanzi.datasets.qa.eval_set import EvalAnswer, EvalPair, EvalQuestion
from quanzi.evaluation.qa_eval import (
    answer_ranking_report,
    non_answer_report,
    similar_question_report,
)
from quanzi.models.qa.metrics import ndcg_at
from quanzi.training.qa import fit_answer_model

HELPFUL = ["用了两周不脱妆，油皮下午才有点出油", "遮瑕力不错，痘印能盖住", "持妆八小时左右"]
NON = ["不知道", "还没用，不清楚", "同问", "帮朋友买的不清楚", "我也想知道"]


def _q(i: int, split: str) -> EvalQuestion:
    answers = tuple(
        EvalAnswer(f"a{i}-{j}", t, "helpful" if t in HELPFUL else "non_answer", True, 20)
        for j, t in enumerate(NON[:2] + HELPFUL + NON[2:])
    )
    return EvalQuestion(f"q{i}", "衣服", "", "持妆久吗？", split, answers)


def test_ndcg_is_one_for_the_ideal_order_and_lower_otherwise() -> None:
    assert ndcg_at([2, 1, 0, 0]) == pytest.approx(1.0)
    assert ndcg_at([0, 0, 1, 2]) < 0.5


def test_a_model_trained_on_dev_beats_newest_first_on_test() -> None:
    model = fit_answer_model([_q(i, "dev") for i in range(6)], None)
    test = [_q(i, "test") for i in range(6, 9)]
    na = non_answer_report(model, None, test)
    assert na["model"]["f1"] == pytest.approx(1.0) and na["keywords"]["f1"] > 0.5
    ranking = answer_ranking_report(model, None, test)
    assert ranking["model"] > ranking["newest"]


def _one_hot_embed(texts: list[str]) -> Callable[[list[str]], np.ndarray]:
    """Each text its own axis, except 电池能用多久, placed near 续航怎么样 (its paraphrase)."""
    table = {t: np.eye(len(texts), dtype=np.float32)[i] for i, t in enumerate(texts)}
    table["电池能用多久"] = table["续航怎么样"] * 0.9 + table["拍照清楚吗"] * 0.1

    def embed(batch: list[str]) -> np.ndarray:
        v = np.array([table[t] for t in batch])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return embed


def test_similar_question_recall_counts_both_directions() -> None:
    texts = ["续航怎么样", "电池能用多久", "拍照清楚吗", "屏幕大吗"]
    embed = _one_hot_embed(texts)

    pairs = [EvalPair("p1", "手机", "续航怎么样", "电池能用多久", True, "test")]
    qs = [EvalQuestion("q1", "手机", "", t, "test", ()) for t in texts]
    report = similar_question_report(embed, pairs, qs, k=1)
    assert report["encoder_r@1"] == 1.0 and report["n"] == 2


def test_similar_question_recall_is_reported_per_split_of_the_pairs() -> None:
    texts = ["续航怎么样", "电池能用多久", "拍照清楚吗", "夜景拍得清楚吗"]
    embed = _one_hot_embed(texts)

    pairs = [
        EvalPair("p1", "手机", "续航怎么样", "电池能用多久", True, "dev"),
        EvalPair("p2", "手机", "拍照清楚吗", "夜景拍得清楚吗", True, "test"),
    ]
    qs = [EvalQuestion("q1", "手机", "", t, "test", ()) for t in texts]
    report = similar_question_report(embed, pairs, qs, k=1)
    assert report["encoder_r@1_dev"] == 1.0 and report["n_dev"] == 2
    assert report["encoder_r@1_test"] == 0.0 and report["n_test"] == 2
    assert report["encoder_r@1"] == 0.5 and report["n"] == 4
