"""Hand-read moderation annotations: valid files, train-only training labels, and no text
both trained on and used to judge collateral."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quanzi.datasets.moderation.gold import (
    MODERATION_GOLD_DIR,
    OFFENSIVE_TRAIN_FILE,
    load_collateral_verdicts,
    load_offensive_review_labels,
    read_jsonl,
)
from quanzi.settings import Settings


def test_annotation_files_are_well_formed() -> None:
    train = read_jsonl(MODERATION_GOLD_DIR / OFFENSIVE_TRAIN_FILE)
    assert len(train) == 196 and set(train["offensive"]) == {0, 1}
    assert (train["split"] == "train").all() and train["reason"].str.len().min() > 0
    for path in MODERATION_GOLD_DIR.glob("collateral_*_rejected.jsonl"):
        verdicts = read_jsonl(path)
        assert set(verdicts["verdict"]) <= {"right", "wrong"}
        assert set(verdicts["should_be"]) <= {"pass", "review", "reject"}
        assert not (verdicts["verdict"] == "right").ne(verdicts["should_be"] == "reject").any()
        # no collateral text is a training annotation
        keys = set(zip(train["corpus"], train["row"], strict=True))
        assert not keys & set(zip(verdicts["corpus"], verdicts["row"], strict=True))


def test_loaders_refuse_bad_labels_and_name_the_file(tmp_path: Path) -> None:
    (tmp_path / OFFENSIVE_TRAIN_FILE).write_text(
        json.dumps({"corpus": "waimai", "row": 1, "split": "train", "offensive": 2}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="'offensive' must be 0 or 1"):
        load_offensive_review_labels(directory=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"collateral_v9_rejected\.jsonl"):
        load_collateral_verdicts("v9", directory=tmp_path)
    (tmp_path / "collateral_v9_rejected.jsonl").write_text("{bad\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"collateral_v9_rejected\.jsonl:1: invalid JSON"):
        load_collateral_verdicts("v9", directory=tmp_path)


def test_annotations_join_to_real_texts_of_the_stated_split() -> None:
    corpora = Settings().corpora_dir
    if not (corpora / "waimai_10k").is_dir():
        pytest.fail(f"the shared corpora are missing from {corpora}")
    labelled = load_offensive_review_labels(corpora)
    assert len(labelled) == 196 and (labelled["split"] == "train").all()
    assert labelled["text"].str.len().min() > 0
    verdicts = load_collateral_verdicts("v1", corpora)
    assert len(verdicts) == 56 and (verdicts["verdict"] == "wrong").sum() == 17
    assert not set(verdicts["norm"]) & set(labelled["norm"])
