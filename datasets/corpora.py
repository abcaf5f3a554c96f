"""Loaders for the shared public corpora, with deterministic, leak-free splits.

Every corpus loads as one DataFrame with the same columns:
``text`` (as written), ``norm`` (normalised, see ``normalize``), ``label`` (int),
``category`` (shopping category, or COLD's topic), ``split`` (train/dev/test) and
``row`` (0-based row in the source file).

Splits (except COLD, which keeps its official ones: the file a row is in) come from a
hash of the normalised text, so they are the same on every machine and identical
normalised texts always land in the same split, in every corpus: no text is ever on
both sides. COLD's official splits do share some texts; its data card gives the count
and ``dedupe(across_splits=True)`` removes them from the less held-out side.

Loading normalises every text, so the frame is cached as parquet under
``Settings().cache_dir``, keyed by the source files' sha256 and the normaliser version.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from quanzi.datasets.normalize import normalize, normalizer_version
from quanzi.settings import Settings

log = logging.getLogger(__name__)

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
# Hash-split fractions for corpora without official splits: 80 / 10 / 10.
SPLIT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}
HASH_SALT = "quanzi-v1"
# Bump when the cached frame's layout or the loading rules change.
LOADER_VERSION = "2"


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
    # Official splits: one file per split, named train/dev/test (the file decides; see
    # the COLD card for why its ``split`` column does not).
    official_splits: bool = False


CORPORA: dict[str, CorpusSpec] = {
    "online_shopping": CorpusSpec(
        "online_shopping",
        ("online_shopping_10_cats/online_shopping_10_cats.csv",),
        "review",
        "label",
        "1 positive / 0 negative review",
        category_column="cat",
    ),
    "waimai": CorpusSpec(
        "waimai",
        ("waimai_10k/waimai_10k.csv",),
        "review",
        "label",
        "1 positive / 0 negative review",
        category="外卖",
    ),
    "hotel": CorpusSpec(
        "hotel",
        ("chnsenticorp_htl/ChnSentiCorp_htl_all.csv",),
        "review",
        "label",
        "1 positive / 0 negative review",
        category="酒店",
    ),
    "cold": CorpusSpec(
        "cold",
        ("cold/train.csv", "cold/dev.csv", "cold/test.csv"),
        "TEXT",
        "label",
        "1 offensive / 0 safe",
        category_column="topic",
        official_splits=True,
    ),
    "spam_sms": CorpusSpec(
        "spam_sms",
        ("spam_sms/spam_sms_10k.csv",),
        "text",
        "label",
        "1 promotional spam / 0 normal SMS",
        category="短信",
    ),
}
REVIEW_CORPORA = ("online_shopping", "waimai", "hotel")


def hash_split(norm: str, salt: str = HASH_SALT) -> Split:
    """The split of one normalised text: a stable hash, independent of row order."""
    digest = hashlib.sha1(f"{salt}\x00{norm}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < SPLIT_FRACTIONS["train"]:
        return "train"
    if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["dev"]:
        return "dev"
    return "test"


def _source_files(spec: CorpusSpec, root: Path) -> list[Path]:
    """The corpus's files, or a FileNotFoundError that says which setting to fix."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"corpora folder {root} does not exist: set QUANZI_CORPORA_DIR to the shared "
            "datasets folder (the one holding online_shopping_10_cats/, cold/, ...)"
        )
    paths = [root / rel for rel in spec.files]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"corpus file {path} not found: set QUANZI_CORPORA_DIR to the shared datasets "
                "folder"
            )
    return paths


def _read(spec: CorpusSpec, root: Path) -> pd.DataFrame:
    """The corpus files as written, plus ``row`` (0-based row within its file)."""
    frames = []
    for path in _source_files(spec, root):
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        df = df.rename(columns=lambda c: c.strip().lstrip("\ufeff"))
        needed = [spec.text_column, spec.label_column, spec.category_column]
        missing = [c for c in needed if c and c not in df.columns]
        if missing:
            raise ValueError(
                f"{path} lacks column(s) {missing}; it has {list(df.columns)}: "
                f"is it the {spec.name} corpus file?"
            )
        df["row"] = range(len(df))
        if spec.official_splits:
            if path.stem not in SPLITS:
                raise ValueError(
                    f"{path}: an official-split file must be named after its split, one of {SPLITS}"
                )
            df["file_split"] = path.stem
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _build(spec: CorpusSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Normalise, label and split the raw rows (the slow part that the cache saves)."""
    text = raw[spec.text_column].astype(str).str.lstrip("\ufeff")
    df = pd.DataFrame(
        {
            "text": text,
            "norm": [normalize(t) for t in text],
            "label": pd.to_numeric(raw[spec.label_column], errors="coerce"),
            "category": raw[spec.category_column] if spec.category_column else spec.category,
            "row": raw["row"],
        }
    )
    df = df[df["label"].notna() & (df["norm"].str.len() > 0)].copy()
    df["label"] = df["label"].astype(int)
    if spec.official_splits:
        df["split"] = raw.loc[df.index, "file_split"].values
    else:
        df["split"] = df["norm"].map(hash_split)
    df = df.reset_index(drop=True)
    return df.astype(
        {"text": str, "norm": str, "category": str, "split": str, "label": "int64", "row": "int64"}
    )


def cache_key(name: str, corpora_dir: Path | str | None = None) -> str:
    """What the cached frame of ``name`` depends on: its files' bytes and our code.

    sha256 of every source file, the normaliser version (our rules, Unicode, OpenCC),
    the loader version and the split salt/fractions.
    """
    spec = CORPORA[name]
    digest = hashlib.sha256()
    for part in (LOADER_VERSION, normalizer_version(), HASH_SALT, repr(SPLIT_FRACTIONS)):
        digest.update(part.encode() + b"\x00")
    for path in _source_files(spec, _corpora_root(corpora_dir)):
        digest.update(path.name.encode() + b"\x00")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _corpora_root(corpora_dir: Path | str | None) -> Path:
    if corpora_dir is not None:
        return Path(corpora_dir)

    return Settings().corpora_dir


def _default_cache_dir() -> Path:
    return Settings().cache_dir / "corpora"


def _read_cache(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # a torn or foreign file: rebuild rather than fail
        log.warning("ignoring unreadable corpus cache %s (%s)", path, exc)
        return None


def _write_cache(path: Path, name: str, df: pd.DataFrame) -> None:
    """Write atomically and drop older versions; a read-only data dir only costs speed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        for stale in path.parent.glob(f"{name}-*.parquet"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning(
            "corpus cache not written to %s (%s); loading still works, only slower", path, exc
        )
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def load_corpus(
    name: str,
    corpora_dir: Path | str | None = None,
    *,
    cache_dir: Path | str | None = None,
    use_cache: bool = True,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """Load one corpus with normalised text and its split (see module docstring).

    The frame is cached as parquet in ``cache_dir`` (default ``Settings().cache_dir``),
    keyed by ``cache_key``; a changed file or normaliser rebuilds it. With
    ``drop_duplicates`` only the first row of each normalised text is kept per split
    (see ``dedupe``).
    """
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; choose one of {sorted(CORPORA)}")
    spec = CORPORA[name]
    root = _corpora_root(corpora_dir)
    if not use_cache:
        df = _build(spec, _read(spec, root))
    else:
        key = cache_key(name, root)[:24]
        path = Path(cache_dir or _default_cache_dir()) / f"{name}-{key}.parquet"
        df = _read_cache(path)
        if df is None:
            df = _build(spec, _read(spec, root))
            _write_cache(path, name, df)
    return dedupe(df) if drop_duplicates else df


def dedupe(
    df: pd.DataFrame,
    *,
    conflicts: Literal["first", "drop"] = "first",
    across_splits: bool = False,
) -> pd.DataFrame:
    """One row per normalised text, for training on distinct texts.

    ``conflicts="first"`` keeps the first row of each text; ``"drop"`` also removes
    texts whose copies disagree on the label. Duplicates are removed within each split
    (hash splits never straddle, so this is per corpus); ``across_splits=True`` also
    removes the copies of a text in train/dev that are in a more held-out split
    (test > dev > train), the leak COLD's official splits have.
    """
    if conflicts not in ("first", "drop"):
        raise ValueError(f"conflicts must be 'first' or 'drop', not {conflicts!r}")
    out = df
    if conflicts == "drop":
        labels = out.groupby("norm")["label"].nunique()
        out = out[~out["norm"].isin(labels.index[labels > 1])]
    if across_splits:
        rank = out["split"].map({"test": 0, "dev": 1, "train": 2})
        order = rank.sort_values(kind="stable").index
        keep = out.loc[order].drop_duplicates("norm").index
        out = out.loc[sorted(keep)]
    else:
        out = out.drop_duplicates(["split", "norm"])
    return out.reset_index(drop=True)


def load_split(
    name: str,
    split: Split,
    corpora_dir: Path | str | None = None,
    *,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """One split of one corpus."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    df = load_corpus(name, corpora_dir, drop_duplicates=drop_duplicates)
    return df[df["split"] == split].reset_index(drop=True)


def load_reviews(
    corpora_dir: Path | str | None = None,
    *,
    drop_duplicates: bool = False,
) -> pd.DataFrame:
    """All real reviews (shopping, delivery, hotel), with a ``corpus`` column.

    The same normalised text in two corpora (hotel reviews also sit in online_shopping's
    酒店 category) has the same hash split in both, so it never straddles splits;
    ``drop_duplicates`` dedupes within each corpus only.
    """
    frames = []
    for name in REVIEW_CORPORA:
        df = load_corpus(name, corpora_dir, drop_duplicates=drop_duplicates)
        df.insert(0, "corpus", name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
