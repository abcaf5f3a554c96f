"""Retrieval metrics of the encoder benchmark on hand-made vectors."""

from __future__ import annotations

import numpy as np

from quanzi.evaluation.encoder_bench import near_dup_recall, same_category_precision


def test_precision_is_one_when_categories_form_tight_clusters() -> None:
    vecs = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    assert same_category_precision(vecs, ["a", "a", "b", "b"], k=1) == 1.0
    assert same_category_precision(vecs, ["a", "b", "a", "b"], k=1) == 0.0


def test_recall_counts_queries_whose_original_is_in_the_top_k() -> None:
    corpus = np.eye(3, dtype=np.float32)
    queries = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)
    assert near_dup_recall(corpus, queries, np.array([0, 2]), k=1) == 1.0
    assert near_dup_recall(corpus, queries, np.array([0, 1]), k=1) == 0.5
