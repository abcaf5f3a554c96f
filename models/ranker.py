"""The learned feed ranker: a linear model over ``ranker_features``, saved as JSON.

Why linear: 500 candidates per request must score in well under a millisecond, and each
item's "why it ranked" reasons stay additive — score = Σ_j w_j · (x_j − mean_j) / scale_j,
so the contribution of feature j is one term of that sum (``Scored.contributions``).
The weights come from a pairwise (RankNet-style) or pointwise logistic regression trained
on logged impressions (``training/tasks_impl/ranker.py``); only the ranking within a
request matters, so there is no intercept.

Saved as one ``ranker.json`` (feature names, mean, scale, weights, training config): a
handful of floats needs no safetensors, and never a pickle. Loading refuses a model whose
feature list differs from the code's (``FEATURES``): the features would be misread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The content type (models/content_type.py) and its fit to the campaign phase.
CONTENT_FEATURES: tuple[str, ...] = (
    "content_phase",
    "ctype_guide",
    "ctype_usage",
    "ctype_question",
)
# The viewer's relation to the circle's brand × what the post is.
RELATION_FEATURES: tuple[str, ...] = (
    "buyer_x_usage",
    "buyer_x_verified",
    "fan_x_guide",
    "member_x_creator",
    "silent_x_engagement",
    "active_x_fresh",
    "norel_x_quality",
)
# Every feature ``models/ranking/ranker_features.py`` builds, in column order: the model's
# input vocabulary (a saved model names the subset it uses, in its own order).
FEATURES: tuple[str, ...] = (
    "log_age",
    "fresh_6h",
    "fresh_24h",
    "fresh_72h",
    "age_rank",
    "top_rank",
    "quality",
    "trust",
    "level_l1",
    "merchant",
    "engagement",
    "log_impressions",
    "log_actions",
    "editorial",
    "phase",
    "interest",
    "friend",
    "follow",
    "negative_author",
    "quality_x_fresh",
    "engagement_x_fresh",
    "engagement_x_age",
    *CONTENT_FEATURES,
    *RELATION_FEATURES,
)
REGISTERED_MODEL = "quanzi-ranker"
FORMAT_VERSION = 1
FILENAME = "ranker.json"


@dataclass
class LinearRanker:
    """Standardised linear scores over ``features`` (a subset of ``FEATURES``, in order)."""

    features: tuple[str, ...]
    mean: np.ndarray  # (f,)
    scale: np.ndarray  # (f,), > 0
    weights: np.ndarray  # (f,)
    config: dict[str, Any] = field(default_factory=dict)
    name: str = REGISTERED_MODEL
    version: str | None = None  # the registered version, set by whoever loaded it

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"ranker uses features this code does not build: {unknown}")
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.scale = np.asarray(self.scale, dtype=np.float64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        f = len(self.features)
        if not (self.mean.shape == self.scale.shape == self.weights.shape == (f,)):
            raise ValueError("ranker mean, scale and weights must each have one value per feature")
        if not (np.all(np.isfinite(self.weights)) and np.all(self.scale > 0)):
            raise ValueError("ranker weights must be finite and scales positive")
        self._columns = np.array([FEATURES.index(f) for f in self.features], dtype=np.int64)
        # w_j (x_j − mean_j) / scale_j = x_j · slope_j − offset_j: one multiply-subtract.
        self._slope = self.weights / self.scale
        self._offset = self.mean * self._slope

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """``(n, f)`` additive contributions of each feature, from full ``FEATURES`` rows."""
        return self.contributions_of(rows[:, self._columns])

    def contributions_of(self, x: np.ndarray) -> np.ndarray:
        """``(n, f)`` contributions from rows of this model's own ``features`` only
        (``ranker_features(..., features=ranker.features)``: what serving computes)."""
        return x * self._slope - self._offset

    def score(self, rows: np.ndarray) -> np.ndarray:
        """``(n,)`` scores from full ``FEATURES`` rows (the sum of the contributions)."""
        return self.contributions(rows).sum(axis=1)

    # ------------------------------------------------------------------ persistence
    def as_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "config": self.config,
        }

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / FILENAME).write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> LinearRanker:
        file = path / FILENAME if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"no {FILENAME} in {path}: not a saved ranker")
        data = json.loads(file.read_text())
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{file}: ranker format {data.get('format_version')!r}, this code "
                f"reads {FORMAT_VERSION}"
            )
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"]),
            scale=np.asarray(data["scale"]),
            weights=np.asarray(data["weights"]),
            config=dict(data.get("config", {})),
            name=data.get("name", REGISTERED_MODEL),
        )

    # Predictor protocol (``training/tasks.py``): the pipeline's save-and-reload check.
    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records of ``{feature: value}`` (missing → 0) → ``{"score": s}`` each."""
        rows = np.array(
            [[float(r.get(f, 0.0)) for f in FEATURES] for r in records], dtype=np.float64
        ).reshape(len(records), len(FEATURES))
        return [{"score": float(s)} for s in self.score(rows)]
