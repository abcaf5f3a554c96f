"""Moderation annotations read by hand (``datasets/gold/moderation/``), joined to their texts.

Two files, two uses, never the same texts (tested):

- ``offensive_train_reviews.jsonl``: 196 TRAIN-split real reviews that the COLD-trained
  offensive classifier scored highest, each read and labelled ``offensive`` 1 (abuse of a
  person or group) or 0 (a complaint about a product, service or merchant, or other
  non-abusive text). Used as offensive training rows.
- ``collateral_*_rejected.jsonl``: the real reviews a champion REJECTED that no model
  trained or tuned on, each read and judged ``right`` or ``wrong`` against the policy, with
  the decision it should have had. Evaluation only: the wrongly-rejected share.

Like the quality gold, only references (``corpus``, ``row``) and labels are stored; the
texts come from the shared corpora.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quanzi.datasets.corpora import load_reviews
from quanzi.datasets.gold import jsonl_records

MODERATION_GOLD_DIR = Path(__file__).resolve().parent.parent / "gold" / "moderation"
OFFENSIVE_TRAIN_FILE = "offensive_train_reviews.jsonl"
VERDICTS = ("right", "wrong")


def read_jsonl(path: Path) -> pd.DataFrame:
    """One row per JSON line; a malformed line is named in the error."""
    return pd.DataFrame([rec for _, rec in jsonl_records(path)])


def _join_texts(ann: pd.DataFrame, corpora_dir: Path | None) -> pd.DataFrame:
    reviews = load_reviews(corpora_dir)[["corpus", "row", "text", "norm", "split"]]
    joined = ann.drop(columns=["split"], errors="ignore").merge(
        reviews, on=["corpus", "row"], how="left"
    )
    missing = joined["text"].isna()
    if missing.any():
        first = joined[missing].iloc[0]
        raise ValueError(
            f"{int(missing.sum())} annotated reviews are not in the corpora "
            f"(first: {first['corpus']}:{first['row']}); check corpora_dir"
        )
    return joined


def load_offensive_review_labels(
    corpora_dir: Path | None = None, directory: Path = MODERATION_GOLD_DIR
) -> pd.DataFrame:
    """Hand-labelled train-split reviews: text, norm, label (offensive 0/1), reason."""
    ann = read_jsonl(directory / OFFENSIVE_TRAIN_FILE)
    bad = ~ann["offensive"].isin((0, 1))
    if bad.any():
        raise ValueError(
            f"{OFFENSIVE_TRAIN_FILE}: 'offensive' must be 0 or 1 (row {int(bad.idxmax()) + 1})"
        )
    out = _join_texts(ann, corpora_dir).rename(columns={"offensive": "label"})
    if (out["split"] != "train").any():
        raise ValueError(
            f"{OFFENSIVE_TRAIN_FILE}: training labels must come from the train split only"
        )
    return out


def load_collateral_verdicts(
    name: str, corpora_dir: Path | None = None, directory: Path = MODERATION_GOLD_DIR
) -> pd.DataFrame:
    """One reading of rejected real reviews (``collateral_<name>_rejected.jsonl``)."""
    path = directory / f"collateral_{name}_rejected.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; readings: {sorted(p.name for p in directory.glob('collateral_*'))}"
        )
    ann = read_jsonl(path)
    bad = ~ann["verdict"].isin(VERDICTS)
    if bad.any():
        raise ValueError(
            f"{path.name}: verdict must be one of {VERDICTS} (row {int(bad.idxmax()) + 1})"
        )
    return _join_texts(ann, corpora_dir)
