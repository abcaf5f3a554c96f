"""The adversarial set loads, is big enough, and covers every policy label in both splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from quanzi.datasets.moderation.adversarial import (
    ADVERSARIAL_FILE,
    POLICY_LABELS,
    SPLITS,
    load_adversarial,
)


@pytest.fixture(scope="module")
def posts():
    return load_adversarial()


def test_sizes(posts) -> None:
    assert sum(not p.clean for p in posts) >= 400
    assert sum(p.clean for p in posts) >= 150


def test_ids_and_texts_unique(posts) -> None:
    assert len({p.id for p in posts}) == len(posts)
    assert len({p.text for p in posts}) == len(posts)


def test_every_label_in_both_splits(posts) -> None:
    seen = Counter((label, p.split) for p in posts for label in p.labels)
    for label in POLICY_LABELS:
        for split in SPLITS:
            assert seen[label, split] > 0, (label, split)
    assert {p.split for p in posts if p.clean} == set(SPLITS)


def test_split_filter(posts) -> None:
    dev, test = load_adversarial("dev"), load_adversarial("test")
    assert len(dev) + len(test) == len(posts)
    assert 0.3 < len(dev) / len(posts) < 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["spamm"]}, "unknown label"),
        ({"decision": "block"}, "decision"),
        ({"split": "train"}, "split"),
        ({"labels": [], "decision": "reject"}, "no label"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, change: dict, message: str) -> None:
    good = json.loads(ADVERSARIAL_FILE.read_text(encoding="utf-8").splitlines()[0])
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps(good | change, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_adversarial(path=path)


def test_unknown_split_argument() -> None:
    with pytest.raises(ValueError, match="split"):
        load_adversarial("train")


def test_data_card_counts_match(posts) -> None:
    """The README's split table is the file's (update it when posts are added)."""
    card = (ADVERSARIAL_FILE.parent / "README.md").read_text(encoding="utf-8")
    for kind, rows in (
        ("adversarial", [p for p in posts if not p.clean]),
        ("clean", [p for p in posts if p.clean]),
    ):
        dev = sum(p.split == "dev" for p in rows)
        assert f"| {kind} | {dev} | {len(rows) - dev} | {len(rows)} |" in card
