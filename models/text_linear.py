"""Char n-gram TF-IDF plus dense features into a softmax (multinomial logistic) head.

Why: the quality and trust models are linear on purpose. On ~600 gold reviews a linear
model over char n-grams and a few documented statistics beats anything that needs more
data, its per-feature contributions are the explanation the product shows ("why L6"),
and inference is one sparse product per batch (thousands of posts/s on one core).

Saved without pickles, one folder per module listed in ``modules.json`` as
sentence-transformers does (``models/module_stack.py``): ``tfidf/`` (``config.json``,
``vocab.json`` with the n-grams in column order, ``idf.safetensors``) and ``head/``
(``config.json`` with the classes and dense feature names, ``weights.safetensors`` with
``coef`` (classes, features), ``intercept``, and the dense features' ``mean``/``scale``).
Loading rebuilds sklearn ``CountVectorizer``s from the vocabulary; nothing executable is
deserialised.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from quanzi.models.ngram_union import NgramUnion
from quanzi.models.sparse_rows import normalize_rows, scale_columns

FORMAT_VERSION = 1


def _require(path: Path, *names: str) -> None:
    for name in names:
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} is missing: not a saved Quanzi model")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass(frozen=True)
class TfidfConfig:
    """Char n-gram TF-IDF as sklearn's ``TfidfVectorizer(sublinear_tf=True)`` computes it."""

    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2  # n-grams seen once are noise and quadruple the vocabulary
    max_features: int | None = 200_000  # caps the saved vocabulary (a few MB of JSON)


@dataclass
class CharTfidf:
    """Fit/transform char n-gram TF-IDF rows (sublinear tf × smoothed idf, L2-normalised)."""

    config: TfidfConfig = field(default_factory=TfidfConfig)
    vectorizer: CountVectorizer | None = None
    idf: np.ndarray | None = None  # (n_terms,) float32
    # (vectorizer, its NgramUnion): counts a text's n-grams with one lookup each
    _counter: tuple[Any, NgramUnion] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def fit(self, texts: Sequence[str]) -> CharTfidf:
        """Learn the vocabulary and idf; tiny sets keep n-grams seen once."""
        texts = list(texts)
        cfg = self.config
        self.vectorizer = CountVectorizer(
            analyzer="char",
            ngram_range=(cfg.ngram_min, cfg.ngram_max),
            min_df=1 if len(texts) < 200 else cfg.min_df,
            max_features=cfg.max_features,
            dtype=np.float32,
        )
        counts = self.vectorizer.fit_transform(texts).tocsr()
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1.0).astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """(n, n_terms) float32 rows of unit length (all-zero for texts with no known n-gram)."""
        if self.vectorizer is None or self.idf is None:
            raise RuntimeError("the TF-IDF block is not fitted")
        if self._counter is None or self._counter[0] is not self.vectorizer:
            self._counter = (self.vectorizer, NgramUnion([self.vectorizer]))
        counts = self._counter[1].transform(list(texts))[0]  # = vectorizer.transform
        counts = sp.csr_matrix(counts, dtype=np.float32)
        counts.data = (1.0 + np.log(counts.data)).astype(np.float32)
        return normalize_rows(scale_columns(counts, self.idf.astype(np.float32, copy=False)))

    @property
    def terms(self) -> list[str]:
        """The n-gram of each column."""
        if self.vectorizer is None:
            raise RuntimeError("the TF-IDF block is not fitted")
        cached = getattr(self, "_terms", None)
        if cached is None:
            cached = self.vectorizer.get_feature_names_out().tolist()
            self._terms = cached
        return cached

    def save(self, path: Path) -> None:
        if self.idf is None:
            raise RuntimeError("the TF-IDF block is not fitted; nothing to save")
        path.mkdir(parents=True, exist_ok=True)
        _write_json(
            path / "config.json",
            {
                "format_version": FORMAT_VERSION,
                "config": asdict(self.config),
                "n_terms": len(self.terms),
            },
        )
        (path / "vocab.json").write_text(
            json.dumps(self.terms, ensure_ascii=False), encoding="utf-8"
        )
        save_file({"idf": np.ascontiguousarray(self.idf)}, str(path / "idf.safetensors"))

    @classmethod
    def load(cls, path: Path) -> CharTfidf:
        _require(path, "config.json", "vocab.json", "idf.safetensors")
        meta = _read_json(path / "config.json")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: format version {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        config = TfidfConfig(**meta["config"])
        terms = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        idf = load_file(str(path / "idf.safetensors"))["idf"]
        if len(terms) != len(idf):
            raise ValueError(f"{path}: vocabulary ({len(terms)}) and idf ({len(idf)}) disagree")
        vectorizer = CountVectorizer(
            analyzer="char",
            ngram_range=(config.ngram_min, config.ngram_max),
            vocabulary={t: i for i, t in enumerate(terms)},
            dtype=np.float32,
        )
        return cls(config=config, vectorizer=vectorizer, idf=idf)


@dataclass
class SoftmaxHead:
    """Multinomial logistic regression over [TF-IDF | standardised dense × weight].

    ``dense_names`` name the dense columns (the explanation uses them); ``weight`` (one per
    dense column) scales each standardised column against the unit-length TF-IDF rows,
    which matters because one L2 penalty covers both.
    """

    classes: list[int] = field(default_factory=list)
    dense_names: list[str] = field(default_factory=list)
    weight: np.ndarray | None = None  # (n_dense,) multiplier after standardising
    mean: np.ndarray | None = None  # (n_dense,)
    scale: np.ndarray | None = None  # (n_dense,)
    coef: np.ndarray | None = None  # (n_classes, n_tfidf + n_dense) float32
    intercept: np.ndarray | None = None  # (n_classes,) float32

    def fit(
        self,
        tfidf: sp.csr_matrix,
        dense: np.ndarray,
        y: np.ndarray,
        C: float,
        weight: np.ndarray | float = 1.0,
        sample_weight: np.ndarray | None = None,
        max_iter: int = 3000,
    ) -> SoftmaxHead:
        """Standardise the dense block on the training rows, then fit the head."""
        if len(self.dense_names) != dense.shape[1]:
            raise ValueError(f"{dense.shape[1]} dense columns but {len(self.dense_names)} names")
        self.weight = np.broadcast_to(
            np.asarray(weight, dtype=np.float32), (dense.shape[1],)
        ).copy()
        self.classes = sorted(int(c) for c in np.unique(y))
        if len(self.classes) < 2:
            raise ValueError(
                f"training set of {len(y)} rows has a single class; it needs at least two"
            )
        self.mean = (
            dense.mean(axis=0).astype(np.float32) if dense.shape[1] else np.zeros(0, np.float32)
        )
        std = dense.std(axis=0) if dense.shape[1] else np.zeros(0)
        self.scale = np.where(std > 1e-9, std, 1.0).astype(np.float32)
        X = self.design(tfidf, dense)
        # newton-cg: ~10 iterations here; lbfgs needs ~60 and is 10-50x slower when BLAS
        # threads compete for 2 shared cores.
        lr = LogisticRegression(C=C, solver="newton-cg", max_iter=max_iter)
        lr.fit(X, y, sample_weight=sample_weight)
        coef, intercept = lr.coef_, lr.intercept_
        if len(self.classes) == 2:  # sklearn stores one row for two classes
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        # C order: safetensors writes the raw buffer, and sklearn may hand back Fortran order.
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        return self

    def standardise(self, dense: np.ndarray) -> np.ndarray:
        if self.mean is None or self.scale is None or self.weight is None:
            raise RuntimeError("the head is not fitted")
        return ((dense - self.mean) / self.scale * self.weight).astype(np.float32)

    def design(self, tfidf: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
        """(n, n_tfidf + n_dense) feature rows as the head sees them."""
        if dense.shape[1] == 0:
            return sp.csr_matrix(tfidf, dtype=np.float32)
        return sp.hstack(
            [tfidf, sp.csr_matrix(self.standardise(dense))], format="csr", dtype=np.float32
        )

    def logits(self, X: sp.csr_matrix) -> np.ndarray:
        if self.coef is None or self.intercept is None:
            raise RuntimeError("the head is not fitted")
        return np.asarray(X @ self.derived()[0], dtype=np.float64) + self.intercept

    def derived(self) -> tuple[np.ndarray, np.ndarray]:
        """``coef.T`` as a contiguous (n_features, n_classes) array and ``coef`` less its
        class mean, made once per ``coef``: scipy copied the transposed view on every
        product, and the explanation recomputed the mean, each O(vocabulary) per call."""
        if self.coef is None:
            raise RuntimeError("the head is not fitted")
        cached = getattr(self, "_derived", None)
        if cached is None or cached[0] is not self.coef:
            coef = self.coef
            cached = (coef, np.ascontiguousarray(coef.T), coef - coef.mean(axis=0))
            self._derived = cached
        return cached[1], cached[2]

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """(n, n_classes) probabilities, columns in ``classes`` order."""
        z = self.logits(X)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def contributions(self, row: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per active feature of one row: its column and how much it favours class ``k``
        over the average class (x_j · (w_kj − mean_c w_cj), in logits)."""
        if self.coef is None:
            raise RuntimeError("the head is not fitted")
        row = row.tocsr()
        cols = row.indices
        w = self.coef[:, cols]
        return cols, row.data * (w[k] - w.mean(axis=0))

    def save(self, path: Path) -> None:
        if self.coef is None or self.intercept is None or self.mean is None:
            raise RuntimeError("the head is not fitted; nothing to save")
        path.mkdir(parents=True, exist_ok=True)
        _write_json(
            path / "config.json",
            {
                "format_version": FORMAT_VERSION,
                "classes": self.classes,
                "dense_names": self.dense_names,
            },
        )
        tensors = {
            "coef": self.coef,
            "intercept": self.intercept,
            "mean": self.mean,
            "scale": self.scale,
            "weight": self.weight,
        }
        save_file(
            {k: np.ascontiguousarray(v) for k, v in tensors.items()},
            str(path / "weights.safetensors"),
        )

    @classmethod
    def load(cls, path: Path) -> SoftmaxHead:
        _require(path, "config.json", "weights.safetensors")
        meta = _read_json(path / "config.json")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: format version {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        w = load_file(str(path / "weights.safetensors"))
        head = cls(
            classes=[int(c) for c in meta["classes"]],
            dense_names=meta["dense_names"],
            weight=w["weight"],
            mean=w["mean"],
            scale=w["scale"],
            coef=w["coef"],
            intercept=w["intercept"],
        )
        if head.coef.shape[0] != len(head.classes) or len(head.mean) != len(head.dense_names):
            raise ValueError(f"{path}: weights do not match the saved classes/feature names")
        return head
