"""The baseline every learned text model must beat: char n-gram TF-IDF + logistic regression.

One recipe (``BaselineConfig``) for every task, fitted on the same rows as the model it is
compared with: the training tasks log it in the same MLflow run, and ``quanzi bench
baselines`` (``evaluation/baselines.py``) measures it against the published anchors.
``near_duplicate_flags`` is its copy detector (TF-IDF cosine to any earlier post).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class BaselineConfig:
    """The one baseline recipe used for every task (sklearn defaults plus min_df=2)."""

    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2  # drop n-grams seen once: the vocabulary shrinks ~4×, accuracy holds
    sublinear_tf: bool = True
    C: float = 1.0
    max_iter: int = 2000
    threshold: float = 0.5  # probability at or above which a text is flagged
    dup_threshold: float = 0.9  # cosine (char 1–3-gram TF-IDF) that counts as a copy


def make_baseline(cfg: BaselineConfig | None = None) -> Pipeline:
    """Char n-gram TF-IDF + logistic regression (liblinear: fastest on sparse binary)."""
    cfg = cfg or BaselineConfig()
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(cfg.ngram_min, cfg.ngram_max),
                    min_df=cfg.min_df,
                    sublinear_tf=cfg.sublinear_tf,
                ),
            ),
            ("lr", LogisticRegression(C=cfg.C, solver="liblinear", max_iter=cfg.max_iter)),
        ]
    )


def fit_baseline(
    texts: Iterable[str], labels: Iterable[int], cfg: BaselineConfig | None = None
) -> Pipeline:
    """Fit the baseline, refusing a training set that has only one class."""
    texts, labels = list(texts), np.asarray(list(labels), dtype=int)
    if len(set(labels.tolist())) < 2:
        raise ValueError(
            f"training set of {len(texts)} texts has a single class; "
            "it needs positives and negatives"
        )
    cfg = cfg or BaselineConfig()
    # On tiny sets min_df=2 could leave no vocabulary at all.
    pipe = make_baseline(
        cfg if len(texts) >= 200 else BaselineConfig(**{**asdict(cfg), "min_df": 1})
    )
    return pipe.fit(texts, labels)


def flag(model: Pipeline, texts: Iterable[str], threshold: float = 0.5) -> np.ndarray:
    """Boolean flags: the positive-class probability is at or above ``threshold``."""
    texts = list(texts)
    if not texts:
        return np.zeros(0, dtype=bool)
    return model.predict_proba(texts)[:, 1] >= threshold


def near_duplicate_flags(texts: list[str], order: Iterable[int], threshold: float) -> np.ndarray:
    """Flag each text whose TF-IDF cosine to any EARLIER text (by ``order``) ≥ ``threshold``.

    The first of two copies passes and the later one is flagged, as in a live stream.
    (n, n) similarities: meant for test-sized sets (a few thousand texts).
    """
    if not texts:
        return np.zeros(0, dtype=bool)
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(
        texts
    )
    rank = np.argsort(np.argsort(np.asarray(list(order))))  # position in posting order
    sims = (vectors @ vectors.T).toarray()
    earlier = rank[None, :] < rank[:, None]  # (n, n): column posted before row
    return (np.where(earlier, sims, 0.0) >= threshold).any(axis=1)


def fit_multiclass_baseline(texts: pd.Series, labels: pd.Series) -> Pipeline:
    """The same recipe for several classes (quality tiers): a multinomial solver, since
    liblinear fits binary labels only."""
    cfg = BaselineConfig()
    pipe = Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(cfg.ngram_min, cfg.ngram_max),
                    min_df=cfg.min_df if len(texts) >= 200 else 1,
                    sublinear_tf=cfg.sublinear_tf,
                ),
            ),
            ("lr", LogisticRegression(C=cfg.C, solver="newton-cg", max_iter=cfg.max_iter)),
        ]
    )
    return pipe.fit(list(texts), np.asarray(labels, dtype=int))
