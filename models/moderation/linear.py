"""Linear text classifiers over character n-grams, saved as JSON + safetensors (no pickles).

Why this shape: char n-gram TF-IDF + logistic regression is the strongest cheap model for
short Chinese text (it is the project's baseline, ``models/baseline.py``); the
moderation heads build on it with two well-known refinements, optional per block:
binary term presence and naive-Bayes log-count-ratio feature scaling (NB-LR, Wang &
Manning 2012), which helps on offensive language. Inference is one sparse matrix product
per label, so the whole moderation stack stays in the thousands of posts per second.

On disk (one folder per classifier, like a sentence-transformers module):
``config.json`` (the ``LinearConfig`` plus sizes), ``vocab.json`` (the n-grams of each
feature block, in column order) and ``weights.safetensors`` (``scale``: per-feature idf or
NB weight, ``coef``, ``intercept``). Loading rebuilds sklearn ``CountVectorizer``s from
the vocabularies; nothing executable is ever deserialised.
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

from quanzi.models.sparse_rows import normalize_rows, scale_columns

FORMAT_VERSION = 1


def l2_normalize(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit length (sklearn's ``normalize`` without its per-call validation,
    which costs more than the arithmetic on the serving path)."""
    return normalize_rows(sp.csr_matrix(matrix, dtype=np.float32, copy=True))


@dataclass(frozen=True)
class FeatureBlock:
    """One bag of n-grams: ``analyzer`` is sklearn's (``char`` or ``char_wb``)."""

    analyzer: str = "char"
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2  # n-grams seen once carry noise and quadruple the vocabulary
    max_features: int | None = 300_000  # caps the saved vocabulary (≈ 3 MB of JSON)


@dataclass(frozen=True)
class LinearConfig:
    """Features and head of one label's classifier."""

    blocks: tuple[FeatureBlock, ...] = (FeatureBlock(),)
    tf: str = "sublinear"  # "sublinear" (1 + ln tf) or "binary" (presence)
    idf: bool = True  # multiply by smoothed idf (sklearn's formula)
    nb: bool = False  # multiply by the naive-Bayes log-count ratio of the training labels
    C: float = 1.0  # inverse L2 strength of the logistic regression
    class_weight: str | None = None  # "balanced" for rare positives
    max_iter: int = 3000

    def __post_init__(self) -> None:
        if self.tf not in ("sublinear", "binary"):
            raise ValueError(f"tf must be 'sublinear' or 'binary', not {self.tf!r}")
        if not self.blocks:
            raise ValueError("a classifier needs at least one feature block")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LinearConfig:
        """Rebuild from ``asdict`` output; unknown keys are errors (a typo is not a default)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown LinearConfig keys {sorted(unknown)}")
        blocks = tuple(FeatureBlock(**b) for b in raw.get("blocks", [asdict(FeatureBlock())]))
        return cls(**{**raw, "blocks": blocks})


@dataclass
class LinearTextClassifier:
    """Char n-gram features → logistic regression; ``predict_proba`` gives P(label)."""

    config: LinearConfig = field(default_factory=LinearConfig)
    vectorizers: list[CountVectorizer] = field(default_factory=list)
    scale: np.ndarray | None = None  # (n_features,) float32
    coef: np.ndarray | None = None  # (n_features,) float32
    intercept: float = 0.0

    # ----------------------------------------------------------------------------- fit
    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> LinearTextClassifier:
        """Fit vocabularies, feature weights and the head on (normalised) texts."""
        texts = list(texts)
        y = np.asarray(labels, dtype=int)
        if len(texts) != len(y):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        if len(set(y.tolist())) < 2:
            raise ValueError(
                f"training set of {len(texts)} texts has a single class; "
                "it needs positives and negatives"
            )
        small = len(texts) < 200  # min_df 2 could leave a tiny set without features
        self.vectorizers = [
            CountVectorizer(
                analyzer=b.analyzer,
                ngram_range=(b.ngram_min, b.ngram_max),
                min_df=1 if small else b.min_df,
                max_features=b.max_features,
                dtype=np.float32,
            )
            for b in self.config.blocks
        ]
        counts = sp.hstack([v.fit_transform(texts) for v in self.vectorizers]).tocsr()
        tf = self._tf(counts)
        scale = np.ones(tf.shape[1], dtype=np.float64)
        if self.config.idf:
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            scale *= np.log((1 + len(texts)) / (1 + df)) + 1.0
        if self.config.nb:
            present = (counts > 0).astype(np.float64)
            pos = np.asarray(present[y == 1].sum(axis=0)).ravel() + 1.0
            neg = np.asarray(present[y == 0].sum(axis=0)).ravel() + 1.0
            scale *= np.abs(np.log((pos / (y == 1).sum()) / (neg / (y == 0).sum())))
        self.scale = scale.astype(np.float32)
        features = l2_normalize(tf.multiply(self.scale).tocsr())
        head = LogisticRegression(
            C=self.config.C,
            solver="liblinear",
            max_iter=self.config.max_iter,
            class_weight=self.config.class_weight,
        )
        head.fit(features, y)
        self.coef = head.coef_.ravel().astype(np.float32)
        self.intercept = float(head.intercept_[0])
        return self

    def _tf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        out = counts.copy()
        if self.config.tf == "binary":
            out.data = np.ones_like(out.data)
        else:
            out.data = 1.0 + np.log(out.data)
        return out

    # ------------------------------------------------------------------------- predict
    def features(
        self, texts: Sequence[str], blocks: Sequence[sp.csr_matrix] | None = None
    ) -> sp.csr_matrix:
        """(n, n_features) L2-normalised weighted n-gram features; ``blocks``: the counts
        of ``texts`` by each vectorizer, when already computed (``models/ngram_union.py``)."""
        if self.coef is None or self.scale is None:
            raise RuntimeError("the classifier is not fitted")
        if blocks is None:
            blocks = [v.transform(list(texts)) for v in self.vectorizers]
        counts = sp.hstack(list(blocks)).tocsr()
        return l2_normalize(scale_columns(self._tf(counts), self.scale))

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Logits (n,)."""
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        return self.logits(self.features(texts))

    def logits(self, features: sp.csr_matrix) -> np.ndarray:
        """Logits (n,) of already computed ``features``."""
        return np.asarray(features @ self.coef, dtype=np.float64) + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(label) per text, (n,) float64."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(texts)))

    def explain(self, text: str | sp.csr_matrix, top: int = 3) -> list[tuple[str, float]]:
        """The n-grams that pushed a text's score up most, with their logit share.

        ``text`` may be a (normalised) text or its row of ``features`` (cheaper in a batch).
        """
        row = self.features([text]) if isinstance(text, str) else text
        terms = self._terms()
        contrib = row.data * self.coef[row.indices]
        order = np.argsort(-contrib)[:top]
        return [(terms[row.indices[i]], float(contrib[i])) for i in order if contrib[i] > 0]

    def prepare_explanations(self) -> None:
        """Build the column → n-gram list ``explain`` reads (a fraction of a second for 300k
        n-grams) at load rather than in the first request a label explains."""
        self._terms()

    def _terms(self) -> list[str]:
        cached = getattr(self, "_term_list", None)
        if cached is None:
            cached = [t for v in self.vectorizers for t in v.get_feature_names_out().tolist()]
            self._term_list = cached
        return cached

    # ---------------------------------------------------------------------- save/load
    def save(self, path: Path) -> None:
        """Write config.json, vocab.json and weights.safetensors into ``path``."""
        if self.coef is None or self.scale is None:
            raise RuntimeError("the classifier is not fitted; nothing to save")
        path.mkdir(parents=True, exist_ok=True)
        vocab = [v.get_feature_names_out().tolist() for v in self.vectorizers]
        (path / "config.json").write_text(
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "config": asdict(self.config),
                    "n_features": int(self.coef.shape[0]),
                    "block_sizes": [len(b) for b in vocab],
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
        (path / "vocab.json").write_text(
            json.dumps({"blocks": vocab}, ensure_ascii=False), encoding="utf-8"
        )
        save_file(
            {
                "scale": self.scale,
                "coef": self.coef,
                "intercept": np.array([self.intercept], dtype=np.float64),
            },
            str(path / "weights.safetensors"),
        )

    @classmethod
    def load(cls, path: Path) -> LinearTextClassifier:
        """Rebuild a classifier saved by ``save``; a missing file is named in the error."""
        for name in ("config.json", "vocab.json", "weights.safetensors"):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path / name} is missing: not a saved classifier")
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: format version {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        config = LinearConfig.from_dict(meta["config"])
        blocks = json.loads((path / "vocab.json").read_text(encoding="utf-8"))["blocks"]
        weights = load_file(str(path / "weights.safetensors"))
        vectorizers = [
            CountVectorizer(
                analyzer=b.analyzer,
                ngram_range=(b.ngram_min, b.ngram_max),
                vocabulary={t: i for i, t in enumerate(terms)},
                dtype=np.float32,
            )
            for b, terms in zip(config.blocks, blocks, strict=True)
        ]
        if sum(len(b) for b in blocks) != weights["coef"].shape[0]:
            raise ValueError(f"{path}: vocabulary size and weights disagree")
        return cls(
            config=config,
            vectorizers=vectorizers,
            scale=weights["scale"],
            coef=weights["coef"],
            intercept=float(weights["intercept"][0]),
        )
