"""Loaders for the shared public corpora, with deterministic, leak-free splits.

Every corpus loads as one DataFrame with the same columns:
``text`` (as written), ``norm`` (normalised, see ``normalize``), ``label`` (int),
``category`` (shopping category, or COLD's topic), ``split`` (train/dev/test) and
``row`` (0-based row in the source file).

Splits (except COLD, which keeps its official ones) come from a hash of the
normalised text, so they are the same on every machine and identical normalised
texts always land in the same split: no text is ever on both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from quanzi.datasets.normalize import normalize

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
# Hash-split fractions for corpora without official splits: 80 / 10 / 10.
SPLIT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


@dataclass(frozen=True)
class CorpusSpec:
    """Where a corpus lives and how its columns map onto ours."""

    name: str
    files: tuple[str, ...]
    text_column: str
    label_column: str
    label_meaning: str
    category: str | None = None  # fixed category, when the file has no category column
    category_column: str | None = None
    official_splits: bool = False


CORPORA: dict[str, CorpusSpec] = {
    "online_shopping": CorpusSpec(
        "online_shopping", ("online_shopping_10_cats/online_shopping_10_cats.csv",),
        "review", "label", "1 positive / 0 negative review", category_column="cat",
    ),
    "waimai": CorpusSpec(
        "waimai", ("waimai_10k/waimai_10k.csv",), "review", "label",
        "1 positive / 0 negative review", category="外卖",
    ),
    "hotel": CorpusSpec(
        "hotel", ("chnsenticorp_htl/ChnSentiCorp_htl_all.csv",), "review", "label",
        "1 positive / 0 negative review", category="酒店",
    ),
    "cold": CorpusSpec(
        "cold", ("cold/train.csv", "cold/dev.csv", "cold/test.csv"), "TEXT", "label",
        "1 offensive / 0 safe", category_column="topic", official_splits=True,
    ),
    "spam_sms": CorpusSpec(
        "spam_sms", ("spam_sms/spam_sms_10k.csv",), "text", "label",
        "1 promotional spam / 0 normal SMS", category="短信",
    ),
}
REVIEW_CORPORA = ("online_shopping", "waimai", "hotel")


def hash_split(norm: str, salt: str = "quanzi-v1") -> Split:
    """The split of one normalised text: a stable hash, independent of row order."""
    digest = hashlib.sha1(f"{salt}\x00{norm}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < SPLIT_FRACTIONS["train"]:
        return "train"
    if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["dev"]:
        return "dev"
    return "test"


def _read(spec: CorpusSpec, root: Path) -> pd.DataFrame:
    frames = []
    for rel in spec.files:
        path = root / rel
        if not path.is_file():
            raise FileNotFoundError(
                f"corpus file {path} not found: set QUANZI_CORPORA_DIR to the shared datasets "
                "folder"
            )
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        df = df.rename(columns=lambda c: c.strip().lstrip("\ufeff"))
        df["row"] = range(len(df))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def load_corpus(name: str, corpora_dir: Path | str | None = None) -> pd.DataFrame:
    """Load one corpus with normalised text and its split (see module docstring)."""
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; choose one of {sorted(CORPORA)}")
    spec = CORPORA[name]
    if corpora_dir is None:
        from quanzi.settings import Settings

        corpora_dir = Settings().corpora_dir
    raw = _read(spec, Path(corpora_dir))
    text = raw[spec.text_column].astype(str).str.lstrip("\ufeff")
    df = pd.DataFrame({
        "text": text,
        "norm": text.map(normalize),
        "label": pd.to_numeric(raw[spec.label_column], errors="coerce"),
        "category": raw[spec.category_column] if spec.category_column else spec.category,
        "row": raw["row"],
    })
    df = df[df["label"].notna() & (df["norm"].str.len() > 0)].copy()
    df["label"] = df["label"].astype(int)
    if spec.official_splits:
        df["split"] = raw.loc[df.index, "split"].str.strip().values
    else:
        df["split"] = df["norm"].map(hash_split)
    return df.reset_index(drop=True)


def load_split(name: str, split: Split, corpora_dir: Path | str | None = None) -> pd.DataFrame:
    """One split of one corpus."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    df = load_corpus(name, corpora_dir)
    return df[df["split"] == split].reset_index(drop=True)


def load_reviews(corpora_dir: Path | str | None = None) -> pd.DataFrame:
    """All real reviews (shopping, delivery, hotel), with a ``corpus`` column."""
    frames = []
    for name in REVIEW_CORPORA:
        df = load_corpus(name, corpora_dir)
        df.insert(0, "corpus", name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
