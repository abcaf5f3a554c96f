"""The encoder's same-category term (``category_loss``): what it rewards, and its edges."""

from __future__ import annotations

import torch

from quanzi.training.encoder import category_loss


def _unit(rows: list[list[float]]) -> torch.Tensor:
    t = torch.tensor(rows, dtype=torch.float32)
    return t / t.norm(dim=1, keepdim=True)


def test_same_category_vectors_together_cost_less_than_apart() -> None:
    cats = torch.tensor([0, 0, 1, 1])
    together = _unit([[1, 0.1], [1, -0.1], [-1, 0.1], [-1, -0.1]])
    apart = _unit([[1, 0.1], [-1, 0.1], [1, -0.1], [-1, -0.1]])
    assert category_loss(together, cats, 0.1) < category_loss(apart, cats, 0.1)


def test_texts_without_a_category_are_neither_anchors_nor_positives() -> None:
    vectors = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    with_unknown = category_loss(vectors, torch.tensor([0, 0, -1, -1]), 0.1)
    # only texts 0 and 1 are anchors; each other's positive; 2 and 3 only negatives
    logits = vectors @ vectors.T / 0.1
    logits.fill_diagonal_(float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    expected = -(log_prob[0, 1] + log_prob[1, 0]) / 2
    assert torch.isclose(with_unknown, expected)


def test_a_batch_with_no_positive_pair_gives_zero_and_keeps_the_graph() -> None:
    vectors = _unit([[1, 0], [0, 1], [1, 1]]).requires_grad_()
    loss = category_loss(vectors, torch.tensor([0, 1, -1]), 0.1)
    assert float(loss.detach()) == 0.0
    loss.backward()  # no error: the step still runs
