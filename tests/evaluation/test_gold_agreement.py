"""Quadratic-weighted kappa over the two annotation passes."""

from __future__ import annotations

import pandas as pd
import pytest

from quanzi.evaluation.gold_agreement import pass_agreement


def _ann(rows):
    return pd.DataFrame(rows, columns=["gold_id", "tier", "pass", "annotator"])


def test_identical_passes_agree_perfectly() -> None:
    rows = [(f"q{i}", i % 4, p, f"a{p}") for i in range(8) for p in (1, 2)]
    agreement = pass_agreement(_ann(rows))
    assert agreement.qwk == pytest.approx(1.0)
    assert agreement.exact == 1.0


def test_far_disagreements_cost_more_than_near_ones() -> None:
    base = [(f"q{i}", i % 4, 1, "a") for i in range(8)]
    near = [(f"q{i}", min(3, i % 4 + 1), 2, "b") for i in range(8)]
    far = [(f"q{i}", 3 - i % 4, 2, "b") for i in range(8)]
    assert pass_agreement(_ann(base + near)).qwk > pass_agreement(_ann(base + far)).qwk


def test_no_shared_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no item"):
        pass_agreement(_ann([("q1", 1, 1, "a"), ("q2", 1, 2, "b")]))
