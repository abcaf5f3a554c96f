"""The Scorer's one transformer pass: vectors are made once per batch for every predictor
that reads them, or taken from the caller, and never made when no predictor reads them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from quanzi.models.scoring import Scorer


class CountingEmbedder:
    """First vector column = text length; counts calls and texts."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


class VectorQuality:
    """Score = the first vector column / 100 (so the test sees which vectors arrived)."""

    name = "quanzi-quality"
    uses_vectors = True

    def __init__(self) -> None:
        self.own_passes = 0

    def predict(
        self, records: list[dict[str, Any]], vectors: np.ndarray | None = None
    ) -> list[dict[str, Any]]:
        if vectors is None:  # what a real predictor does: embed by itself
            self.own_passes += 1
            vectors = np.array([[len(r["text"]), 1.0] for r in records])
        return [{"score": float(v[0]) / 100, "tier": 1} for v in vectors]


class TextTrust:
    """Reads no vectors: it must never be handed any."""

    name = "quanzi-trust"

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"level": "L3", "probs": {"L3": 1.0}, "reasons": []} for _ in records]


RECORDS = [{"id": i, "text": "好" * (i + 1)} for i in range(5)]


def test_embedder_runs_once_per_batch_for_vector_readers() -> None:
    embedder, quality = CountingEmbedder(), VectorQuality()
    scorer = Scorer(None, quality, TextTrust(), batch_size=2, embedder=embedder)
    out = scorer.score(RECORDS)
    assert embedder.calls == [2, 2, 1]  # one pass per batch, each text once
    assert quality.own_passes == 0
    assert [r["quality"]["score"] for r in out] == [0.01, 0.02, 0.03, 0.04, 0.05]
    assert [r["id"] for r in out] == [0, 1, 2, 3, 4]


def test_callers_vectors_are_used_without_another_pass() -> None:
    embedder, quality = CountingEmbedder(), VectorQuality()
    scorer = Scorer(None, quality, TextTrust(), batch_size=2, embedder=embedder)
    given = np.array([[10 * (i + 1), 0.0] for i in range(5)], dtype=np.float32)
    out = scorer.score(RECORDS, vectors=given)
    assert embedder.calls == [] and quality.own_passes == 0
    assert [r["quality"]["score"] for r in out] == [0.1, 0.2, 0.3, 0.4, 0.5]
    with pytest.raises(ValueError, match="4 vectors for 5 records"):
        scorer.score(RECORDS, vectors=given[:4])


def test_no_vector_reader_means_no_embedding() -> None:
    embedder = CountingEmbedder()
    Scorer(None, None, TextTrust(), embedder=embedder).score(RECORDS)
    assert embedder.calls == []


def test_without_embedder_a_vector_reader_embeds_by_itself() -> None:
    quality = VectorQuality()
    out = Scorer(None, quality, None, batch_size=10).score(RECORDS)
    assert quality.own_passes == 1 and out[4]["quality"]["score"] == 0.05
