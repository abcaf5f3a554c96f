"""The hand-written training rows keep the format their data card states, and the card's
counts are the file's (so a pass that adds rows must update the card)."""

from __future__ import annotations

import json
import re
from collections import Counter

from quanzi.datasets.moderation.adversarial import load_adversarial
from quanzi.datasets.moderation.written import WRITTEN_FILE, WRITTEN_LABELS, load_written

CARD = WRITTEN_FILE.parent / "README.md"


def _raw_rows() -> list[dict]:
    return [json.loads(line) for line in WRITTEN_FILE.read_text(encoding="utf-8").splitlines()]


def test_rows_follow_the_card_conventions() -> None:
    rows = _raw_rows()
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["text"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == {"id", "text", "labels", "category", "note"}, r["id"]
        assert set(r["labels"]) <= set(WRITTEN_LABELS), r["id"]
        assert r["category"].startswith("clean") == (not r["labels"]), r["id"]
        assert r["note"].strip(), r["id"]


def test_card_counts_match_the_file() -> None:
    rows = _raw_rows()
    card = CARD.read_text(encoding="utf-8")
    head = re.search(r"rows: (\d+); clean \(no label\): (\d+)", card)
    assert head is not None
    assert int(head.group(1)) == len(rows)
    assert int(head.group(2)) == sum(not r["labels"] for r in rows)
    carried = Counter(label for r in rows for label in r["labels"])
    for label in WRITTEN_LABELS:
        assert f"| `{label}` | {carried[label]} |" in card, label


def test_no_written_text_is_a_held_out_text() -> None:
    held_out = {p.text for p in load_adversarial()}
    assert not held_out & set(load_written()["text"])
