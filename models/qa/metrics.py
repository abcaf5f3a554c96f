"""The Q&A models' metrics on the hand-written set, shared by training (what a version
logs in MLflow and promotion compares) and ``quanzi eval qa`` (beside the baselines)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from quanzi.datasets.qa.eval_set import GAIN, EvalQuestion
from quanzi.models.qa.answer_model import AnswerModel, answer_rows
from quanzi.models.qa.answer_ranking import answer_order

Embed = Callable[[Sequence[str]], np.ndarray]


def f1_of(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tp = float(np.sum((pred == 1) & (y == 1)))
    p = tp / max(float(np.sum(pred == 1)), 1.0)
    r = tp / max(float(np.sum(y == 1)), 1.0)
    return {"f1": 2 * p * r / max(p + r, 1e-12), "precision": p, "recall": r}


def ndcg_at(gains_in_order: Sequence[float], k: int = 3) -> float:
    """NDCG@k with exponential gains (2^g − 1) over the list's own ideal order."""
    g = np.asarray(gains_in_order, dtype=np.float64)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(((2 ** g[:k] - 1) * disc[: len(g[:k])]).sum())
    ideal = np.sort(g)[::-1]
    idcg = float(((2 ** ideal[:k] - 1) * disc[: len(ideal[:k])]).sum())
    return dcg / idcg if idcg > 0 else 1.0


def non_answer_f1(
    model: AnswerModel, embed: Embed | None, questions: Sequence[EvalQuestion]
) -> dict[str, float]:
    """The model's non-answer F1 (precision, recall) over every answer of ``questions``."""
    rows, y, _ = answer_rows(questions)
    p_na, _ = model.predict(rows, embed)
    return {**f1_of((p_na >= model.threshold).astype(int), y), "n": float(len(y))}


def answer_ndcg(
    model: AnswerModel, embed: Embed | None, questions: Sequence[EvalQuestion]
) -> dict[str, float]:
    """Mean NDCG@3 of the model's order and of newest / longest first, over the questions
    with a helpful or partial answer. Newest first reads the answers' ids as their order
    of writing (the set records no times)."""
    out: dict[str, list[float]] = {"model": [], "newest": [], "longest": []}
    for q in questions:
        gains = np.array([GAIN[a.label] for a in q.answers])
        if gains.max() <= 0:
            continue
        rows, _, _ = answer_rows([q])
        p_na, helpful = model.predict(rows, embed)
        order, _ = answer_order(
            helpful,
            p_na,
            threshold=model.threshold,
            bought=np.array([a.author_bought for a in q.answers]),
        )
        out["model"].append(ndcg_at(gains[order]))
        out["newest"].append(ndcg_at(gains[::-1]))
        lengths = np.array([len(a.text) for a in q.answers])
        out["longest"].append(ndcg_at(gains[np.lexsort((np.arange(len(q.answers)), -lengths))]))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()} | {
        "n": float(len(out["model"]))
    }
