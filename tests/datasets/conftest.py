"""Fixtures for the corpora tests: a tiny synthetic corpora folder and the real one.

The synthetic folder has the real layout and column names, with the cases the loaders
must handle: duplicates (exact and after normalisation), full-width and traditional
text, a BOM, an empty review, a non-numeric label, a hotel review that is also an
online_shopping 酒店 review, and COLD texts repeated across its official splits.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from quanzi.settings import Settings

SHOP = [
    ("书籍", "1", "\ufeff这本书很好看，推荐！"),
    ("书籍", "1", "这本书很好看,推荐!"),  # same text once normalised
    ("酒店", "1", "房間很乾淨，服務也很好。"),  # traditional, also in hotel
    ("酒店", "0", "隔音太差，晚上睡不着"),
    ("手机", "1", "屏幕ＯＬＥＤ，续航１２小时"),
    ("手机", "0", "屏幕ＯＬＥＤ，续航１２小时"),  # exact duplicate, other label
    ("衣服", "1", "   "),  # empty after normalisation
    ("衣服", "x", "标签坏了"),  # label not a number
    ("水果", "0", "不新鲜!!!!!坏了好几个"),
]
WAIMAI = [("1", "很快，好吃"), ("0", "送餐太慢了"), ("0", "送餐太慢了")]
HOTEL = [("1", "房间很干净，服务也很好。"), ("0", "前台态度一般")]
COLD = {
    "train": [
        ("0", "race", "大家都是人"),
        ("1", "region", "那个地方的人都不行"),
        ("1", "gender", "同一句话在两个集里"),
    ],
    "dev": [("0", "gender", "说得有道理", "dev"), ("1", "race", "滚回去吧", "train")],
    "test": [("1", "gender", "同一句话在两个集里"), ("0", "region", "家乡的菜好吃")],
}
SMS = [("1", "全场x折，进店有礼，电话xxxxxxxxxxx"), ("0", "明天开会别迟到")]


def _write(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_synthetic_corpora(root: Path) -> Path:
    """Write the five corpora files under ``root`` in the shared folder's layout."""
    _write(
        root / "online_shopping_10_cats/online_shopping_10_cats.csv",
        ["cat", "label", "review"],
        SHOP,
    )
    _write(root / "waimai_10k/waimai_10k.csv", ["label", "review"], WAIMAI)
    _write(root / "chnsenticorp_htl/ChnSentiCorp_htl_all.csv", ["label", "review"], HOTEL)
    for split, rows in COLD.items():
        header = ["", "split", "topic", "label", "TEXT"]
        _write(
            root / f"cold/{split}.csv",
            header,
            [(str(i), r[3] if len(r) > 3 else split, r[1], r[0], r[2]) for i, r in enumerate(rows)],
        )
    _write(root / "spam_sms/spam_sms_10k.csv", ["label", "text"], SMS)
    return root


@pytest.fixture
def synthetic_corpora(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny corpora folder, also exported as QUANZI_CORPORA_DIR."""
    root = write_synthetic_corpora(tmp_path / "corpora")
    monkeypatch.setenv("QUANZI_CORPORA_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def real_corpora_dir() -> Path:
    """The shared corpora folder; tests that need it skip where it is absent."""
    root = Settings().corpora_dir
    if not (root / "cold" / "train.csv").is_file():
        pytest.skip(f"shared corpora not found at {root} (set QUANZI_CORPORA_DIR)")
    return root


@pytest.fixture(scope="session")
def load_real(
    real_corpora_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], pd.DataFrame]:
    """Load a real corpus through a cache shared by this test session (built once)."""
    from quanzi.datasets.corpora import load_corpus

    cache = tmp_path_factory.mktemp("corpus-cache")
    frames: dict[str, pd.DataFrame] = {}

    def load(name: str) -> pd.DataFrame:
        if name not in frames:
            frames[name] = load_corpus(name, real_corpora_dir, cache_dir=cache)
        return frames[name].copy()

    return load
