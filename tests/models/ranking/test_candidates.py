"""The candidate set: lazily gathered embeddings equal the eager ones, through ``take``."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet


def test_lazy_embeddings_match_the_rows_and_survive_take() -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    c = CandidateSet.from_ids(["a", "b", "c"])
    c.use_matrix(matrix, np.array([2, -1, 0]))  # b has no vector
    assert np.array_equal(c.embeddings_at(np.array([2, 0])), matrix[[0, 2]])
    kept = c.take(np.array([True, True, False]))
    assert np.array_equal(kept.embeddings, np.stack([matrix[2], np.zeros(3)]))
    assert kept.embeddings_at(np.array([1])).sum() == 0.0
    c.embeddings = np.ones((3, 3), dtype=np.float32)  # explicit vectors win
    assert c.embeddings_at(np.array([0])).tolist() == [[1.0, 1.0, 1.0]]


def test_no_vectors_at_all_is_none() -> None:
    c = CandidateSet.from_ids(["a"])
    assert c.embeddings is None and c.embeddings_at(np.array([0])) is None
