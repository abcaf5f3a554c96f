"""Answers to a question: is it a non-answer (不知道, 还没用, 同问, ads, off-topic), and how
helpful is it. One feature map (char 1–3-grams of the answer, the shared encoder's
question–answer cosine and answer vector, length and the author's purchase) and two
logistic heads: non-answer (binary) and helpfulness (helpful / partial / neither).

Saved as JSON + ``.npy`` weights in one folder (no pickles)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression, Ridge

from quanzi.datasets.qa.eval_set import GAIN, EvalQuestion

Embed = Callable[[Sequence[str]], np.ndarray]
N_FEATURES = 2**16
GRADES = ("none", "partial", "helpful")  # helpfulness head's classes, gain 0 / 1 / 2

# The keyword-list baseline: phrases that mark a reply that does not answer.
NON_ANSWER_KEYWORDS = (
    "不知道",
    "不清楚",
    "还没用",
    "没用过",
    "还没",
    "同问",
    "也想知道",
    "没拆",
    "送人",
    "帮朋友",
    "朋友买的",
    "不好说",
    "加我",
    "私聊",
    "店",
    "链接",
)


def keyword_non_answer(texts: Sequence[str]) -> np.ndarray:
    """The baseline: 1 where a text contains a keyword of ``NON_ANSWER_KEYWORDS``."""
    return np.array([any(k in t for k in NON_ANSWER_KEYWORDS) for t in texts], dtype=np.int64)


@dataclass(frozen=True)
class AnswerRow:
    """One answer as the model reads it."""

    question: str
    text: str
    author_bought: bool = False
    days_since_purchase: float | None = None


_hasher = HashingVectorizer(
    analyzer="char", ngram_range=(1, 3), n_features=N_FEATURES, alternate_sign=False, norm="l2"
)


def features(rows: Sequence[AnswerRow], embed: Embed | None) -> sp.csr_matrix:
    """(n, N_FEATURES + 4 [+ 1 + d]) sparse: n-grams, length, purchase, encoder features."""
    texts = [r.text for r in rows]
    grams = _hasher.transform(texts)
    lengths = np.array([len(t) for t in texts], dtype=np.float64)
    days = np.array(
        [np.nan if r.days_since_purchase is None else r.days_since_purchase for r in rows]
    )
    dense = [
        np.log1p(lengths) / 5.0,
        np.array([r.author_bought for r in rows], dtype=np.float64),
        np.where(np.isnan(days), 0.0, np.log1p(np.nan_to_num(days)) / 6.0),
        np.array([any(c.isdigit() for c in t) for t in texts], dtype=np.float64),
    ]
    blocks = [grams, sp.csr_matrix(np.column_stack(dense))]
    if embed is not None:
        a = embed(texts)
        q = embed([r.question for r in rows])
        cos = (a * q).sum(axis=1, keepdims=True)
        blocks.append(sp.csr_matrix(np.hstack([cos * 3.0, a]).astype(np.float64)))
    return sp.hstack(blocks, format="csr")


@dataclass
class AnswerModel:
    """The two heads over ``features``; ``threshold`` on P(non-answer) chosen on dev."""

    non_answer: LogisticRegression
    helpfulness: Ridge  # regression on the grade 0–2
    threshold: float = 0.5
    uses_encoder: bool = True

    @classmethod
    def fit(
        cls,
        rows: Sequence[AnswerRow],
        non_answer: Sequence[int],
        grade: Sequence[int],
        embed: Embed | None,
        *,
        c: float = 4.0,
    ) -> AnswerModel:
        """Fit both heads (``grade``: index into ``GRADES``); threshold 0.5 until tuned."""
        x = features(rows, embed)
        # liblinear: milliseconds on a few thousand sparse rows (lbfgs took minutes)
        na = LogisticRegression(C=c, solver="liblinear", class_weight="balanced").fit(x, non_answer)
        hp = Ridge(alpha=1.0 / c).fit(x, np.asarray(grade, dtype=np.float64))
        return cls(na, hp, 0.5, embed is not None)

    def predict(
        self, rows: Sequence[AnswerRow], embed: Embed | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(non-answer) and expected helpfulness gain (0–2) per row."""
        if not rows:
            return np.zeros(0), np.zeros(0)
        x = features(rows, embed if self.uses_encoder else None)
        p_na = self.non_answer.predict_proba(x)[:, 1]
        return p_na, np.clip(self.helpfulness.predict(x), 0.0, 2.0)

    # --- persistence: JSON + .npy, no pickles ------------------------------------------
    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "non_answer_coef.npy", self.non_answer.coef_)
        np.save(folder / "non_answer_intercept.npy", self.non_answer.intercept_)
        np.save(folder / "non_answer_classes.npy", self.non_answer.classes_)
        np.save(folder / "helpfulness_coef.npy", self.helpfulness.coef_)
        np.save(folder / "helpfulness_intercept.npy", np.atleast_1d(self.helpfulness.intercept_))
        (folder / "config.json").write_text(
            json.dumps(
                {
                    "kind": "quanzi-answer-model",
                    "threshold": self.threshold,
                    "uses_encoder": self.uses_encoder,
                    "n_features": N_FEATURES,
                },
                indent=2,
            )
        )
        return folder

    @classmethod
    def load(cls, folder: Path) -> AnswerModel:
        config = json.loads((folder / "config.json").read_text())
        na = LogisticRegression()
        na.coef_ = np.load(folder / "non_answer_coef.npy")
        na.intercept_ = np.load(folder / "non_answer_intercept.npy")
        na.classes_ = np.load(folder / "non_answer_classes.npy")
        hp = Ridge()
        hp.coef_ = np.load(folder / "helpfulness_coef.npy")
        hp.intercept_ = float(np.load(folder / "helpfulness_intercept.npy")[0])
        hp.n_features_in_ = hp.coef_.shape[-1]
        return cls(na, hp, float(config["threshold"]), bool(config["uses_encoder"]))


def best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The P(non-answer) cut that maximises F1 on (cross-validated) dev predictions."""
    best, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        f1 = 2 * tp / max(float(pred.sum() + (y == 1).sum()), 1.0)
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return round(best, 3)


def answer_rows(
    questions: Sequence[EvalQuestion],
) -> tuple[list[AnswerRow], np.ndarray, np.ndarray]:
    """Every labelled answer as a model row, its non-answer flag and its grade (0–2)."""
    rows, na, grade = [], [], []
    for q in questions:
        for a in q.answers:
            rows.append(AnswerRow(q.question, a.text, a.author_bought, a.days_since_purchase))
            na.append(int(a.is_non_answer))
            grade.append(int(GAIN[a.label]))
    return rows, np.array(na, dtype=np.int64), np.array(grade, dtype=np.int64)
