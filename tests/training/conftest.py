"""A tiny corpora folder in the shared layout, so training tests never read the real corpora."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

FRAGMENTS = [
    "物流很快",
    "包装完好",
    "味道不错",
    "送餐太慢",
    "米饭凉了",
    "分量很足",
    "服务态度好",
    "下次还会点",
    "价格实惠",
    "有点咸",
    "骑手很准时",
    "菜品新鲜",
    "一般般",
    "非常满意",
]


@pytest.fixture
def tiny_corpora(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``waimai_10k/waimai_10k.csv`` with 300 distinct short reviews; QUANZI_CORPORA_DIR set."""
    rng = random.Random(0)
    root = tmp_path / "corpora"
    (root / "waimai_10k").mkdir(parents=True)
    rows, seen = [], set()
    while len(rows) < 300:
        text = "，".join(rng.sample(FRAGMENTS, rng.randint(2, 4)))
        if text not in seen:
            seen.add(text)
            rows.append((rng.randint(0, 1), text))
    with (root / "waimai_10k" / "waimai_10k.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "review"])
        writer.writerows(rows)
    monkeypatch.setenv("QUANZI_CORPORA_DIR", str(root))
    return root
