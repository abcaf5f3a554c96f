"""The quality gold set: real reviews annotated by reading them against the rubric.

The repository stores only references (corpus, row) and the annotations, never the
corpus texts themselves; ``load_quality_gold`` joins them back with the shared corpora.
Candidates are drawn by ``sample_quality_candidates``: stratified by category, length
band and sentiment so every cell of the rubric's space is represented, and spread over
the corpora's hash splits so the gold test split is the corpus test split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanzi.datasets.corpora import load_reviews

GOLD_DIR = Path(__file__).resolve().parent / "gold"
QUALITY_DIR = GOLD_DIR / "quality"
LENGTH_BANDS = ((0, 20, "short"), (20, 80, "medium"), (80, 10_000, "long"))
TIERS = (0, 1, 2, 3)


def length_band(n_chars: int) -> str:
    """Length band of a review (characters of the normalised text)."""
    for lo, hi, name in LENGTH_BANDS:
        if lo <= n_chars < hi:
            return name
    return LENGTH_BANDS[-1][2]


# Per stratum cell, how many to draw from each corpus split: the gold test split is the
# corpus test split, so it is large enough for a stable kappa.
PER_CELL = {"test": 12, "dev": 4, "train": 10}


def sample_quality_candidates(
    per_cell: dict[str, int] | None = None, seed: int = 20261122, corpora_dir: Path | None = None
) -> pd.DataFrame:
    """Stratified sample: category × length band × sentiment × split.

    Deterministic for a given seed and corpus files. One row per normalised text.
    """
    per_cell = per_cell or PER_CELL
    reviews = load_reviews(corpora_dir).drop_duplicates("norm").copy()
    reviews["band"] = reviews["norm"].str.len().map(length_band)
    rng = np.random.default_rng(seed)
    picks = []
    for key, cell in reviews.groupby(["category", "band", "label", "split"], sort=True):
        take = min(per_cell[key[3]], len(cell))
        idx = rng.choice(len(cell), size=take, replace=False)
        picks.append(cell.iloc[np.sort(idx)])
    sample = pd.concat(picks, ignore_index=True)
    order = rng.permutation(len(sample))
    sample = sample.iloc[order].reset_index(drop=True)
    sample.insert(0, "gold_id", [f"q{i:05d}" for i in range(len(sample))])
    return sample[["gold_id", "corpus", "row", "category", "band", "label", "split", "text"]]


def jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line of an annotation file; a malformed
    line is named in the error, so an annotator can fix it."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{n}: invalid JSON ({exc.msg})") from exc


def read_annotations(directory: Path = QUALITY_DIR) -> pd.DataFrame:
    """All annotation lines: gold_id, corpus, row, tier, reason, annotator, pass."""
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        for n, rec in jsonl_records(path):
            if rec.get("tier") not in TIERS:
                raise ValueError(f"{path.name}:{n}: tier must be one of {TIERS}")
            rows.append(rec)
    return pd.DataFrame(rows)


def load_quality_gold(corpora_dir: Path | None = None) -> pd.DataFrame:
    """First-pass annotations joined with their texts (one row per gold item)."""
    ann = read_annotations()
    first = ann[ann["pass"] == 1].drop_duplicates("gold_id")
    reviews = load_reviews(corpora_dir)[
        ["corpus", "row", "text", "norm", "category", "label", "split"]
    ]
    gold = first.merge(reviews, on=["corpus", "row"], how="left", validate="one_to_one")
    missing = gold["text"].isna().sum()
    if missing:
        raise ValueError(f"{missing} gold items no longer match a corpus row: corpora changed?")
    gold["band"] = gold["norm"].str.len().map(length_band)
    return gold
