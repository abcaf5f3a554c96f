"""Agreement and coverage of the quality gold set (why: a gold set is only as good as
the agreement between two independent readings of the same texts)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from quanzi.datasets.gold import TIERS, read_annotations


@dataclass(frozen=True)
class Agreement:
    """Two-pass agreement on the doubly annotated items."""

    n_items: int
    qwk: float
    exact: float
    within_one: float
    confusion: list[list[int]]  # rows: pass 1 tier, columns: pass 2 tier


def pass_agreement(annotations: pd.DataFrame | None = None) -> Agreement:
    """Quadratic-weighted kappa between the first and second pass on shared items."""
    ann = read_annotations() if annotations is None else annotations
    first = ann[ann["pass"] == 1].drop_duplicates("gold_id", keep="last").set_index("gold_id")
    second = ann[ann["pass"] == 2].drop_duplicates("gold_id", keep="last").set_index("gold_id")
    shared = first.index.intersection(second.index)
    if len(shared) == 0:
        raise ValueError("no item has both a first and a second annotation yet")
    a = first.loc[shared, "tier"].astype(int).to_numpy()
    b = second.loc[shared, "tier"].astype(int).to_numpy()
    return Agreement(
        n_items=len(shared),
        qwk=float(cohen_kappa_score(a, b, weights="quadratic", labels=list(TIERS))),
        exact=float((a == b).mean()),
        within_one=float((abs(a - b) <= 1).mean()),
        confusion=confusion_matrix(a, b, labels=list(TIERS)).tolist(),
    )
