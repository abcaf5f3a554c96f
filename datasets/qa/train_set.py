"""Load the hand-written Q&A **training** question triplets (``datasets/qa/train``): a
question, the same question in other words, and a different question on the same kind of
product. They train the question encoder and are kept apart from the evaluation set
(``eval/``), whose pairs are never trained on. The data card is ``train/README.md``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quanzi.datasets.qa.eval_set import CATEGORIES, EvalSetError, _check, _rows

TRAIN_DIR = Path(__file__).resolve().parent / "train"


@dataclass(frozen=True)
class QuestionTriplet:
    id: str
    category: str
    anchor: str
    positive: str  # asks the same thing as ``anchor``
    negative: str  # same product kind, overlapping words, a different question


def load_triplets(root: Path = TRAIN_DIR) -> list[QuestionTriplet]:
    """Every training triplet of ``root/pairs.jsonl`` (an error names a broken row)."""
    out = []
    for r in _rows(root / "pairs.jsonl"):
        where = f"train pairs.jsonl {r.get('id')}"
        _check(r.get("category") in CATEGORIES, where, f"unknown category {r.get('category')!r}")
        for key in ("anchor", "positive", "negative"):
            _check(bool(str(r.get(key) or "").strip()), where, f"{key} is empty")
        out.append(
            QuestionTriplet(
                str(r["id"]),
                r["category"],
                str(r["anchor"]),
                str(r["positive"]),
                str(r["negative"]),
            )
        )
    return out


__all__ = ["TRAIN_DIR", "EvalSetError", "QuestionTriplet", "load_triplets"]
