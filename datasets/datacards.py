"""Data cards for the shared corpora: measured facts plus what the numbers cannot say.

``corpus_stats`` measures one corpus (sizes, labels, lengths, duplicates, split
overlap, cross-corpus overlap, normalisation effects); ``render_card`` fills the card
template with them and with the hand-written ``CARD_META`` (source, licence, citation,
caveats). ``quanzi data cards`` re-measures and rewrites ``datasets/cards/<name>.md``,
so every number in a card comes from a command, never from a hand edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from quanzi.datasets.corpora import (
    CORPORA,
    SPLIT_FRACTIONS,
    SPLITS,
    _read,
    _source_files,
    load_corpus,
)
from quanzi.datasets.normalize import normalizer_version, strip_invisible, to_simplified

CARDS_DIR = Path(__file__).resolve().parent / "cards"
SOPHONPLUS = "https://github.com/SophonPlus/ChineseNlpCorpus"
SOPHONPLUS_LICENCE = (
    "No licence file ships with the copy in `shared/datasets/`; SophonPlus/ChineseNlpCorpus "
    "publishes it for NLP research. Treat as research-only: train and evaluate on it, do "
    "not redistribute the texts (the repository stores only row references)."
)


@dataclass(frozen=True)
class CardMeta:
    """The hand-written part of a card: what measurement cannot tell."""

    title: str
    about: str
    source: str
    licence: str
    citation: str
    caveats: tuple[str, ...]


CARD_META: dict[str, CardMeta] = {
    "online_shopping": CardMeta(
        title="online_shopping_10_cats — shopping reviews in ten categories",
        about="Product reviews from Chinese e-commerce sites in ten categories, each labelled "
        "positive or negative. Quanzi's main source of genuine circle posts.",
        source=f"`online_shopping_10_cats/online_shopping_10_cats.csv` from {SOPHONPLUS} "
        "(copied unchanged).",
        licence=SOPHONPLUS_LICENCE,
        citation=f"SophonPlus, *ChineseNlpCorpus: online_shopping_10_cats*, {SOPHONPLUS}.",
        caveats=(
            "Its 酒店 category is hotel reviews from the same pool as ChnSentiCorp_htl "
            "(`hotel`): the shared normalised texts are counted under *Overlap with other "
            "corpora*. They get the same hash split in both corpora, so a model trained on "
            "one and tested on the other still never sees a test text in training.",
            "Categories are very unequal (see the table); labels are balanced overall but "
            "not within every category.",
            "Some reviews start with a U+FEFF byte-order mark (counted in the table above); "
            "the loader strips it from `text` as well as from `norm`.",
        ),
    ),
    "waimai": CardMeta(
        title="waimai_10k — food-delivery reviews",
        about="Reviews of a food-delivery platform, labelled positive or negative. Short, "
        "colloquial texts about speed, taste and couriers.",
        source=f"`waimai_10k/waimai_10k.csv` from {SOPHONPLUS} (copied unchanged).",
        licence=SOPHONPLUS_LICENCE,
        citation=f"SophonPlus, *ChineseNlpCorpus: waimai_10k*, {SOPHONPLUS}.",
        caveats=(
            "Negative reviews outnumber positive ones about 2:1.",
            "No category column: every row gets the category 外卖.",
        ),
    ),
    "hotel": CardMeta(
        title="ChnSentiCorp_htl_all — hotel reviews",
        about="Hotel reviews (ChnSentiCorp, hotel part), labelled positive or negative.",
        source=f"`chnsenticorp_htl/ChnSentiCorp_htl_all.csv` from {SOPHONPLUS} (copied "
        "unchanged); ChnSentiCorp was collected by Tan Songbo.",
        licence=SOPHONPLUS_LICENCE,
        citation="Songbo Tan and Jin Zhang, *An empirical study of sentiment analysis for "
        "Chinese documents*, Expert Systems with Applications 34(4), 2008; via "
        f"{SOPHONPLUS}.",
        caveats=(
            "Overlaps online_shopping's 酒店 category (see *Overlap with other corpora*); "
            "the hash split keeps every shared text in one split across both corpora.",
            "No category column: every row gets the category 酒店.",
        ),
    ),
    "cold": CardMeta(
        title="COLD — Chinese offensive language",
        about="Social-media comments on race, gender and region, labelled offensive or "
        "safe; the test file also has a fine-grained label (not loaded). Quanzi's "
        "training and evaluation data for the `offensive` moderation label.",
        source="`cold/{train,dev,test}.csv` from https://github.com/thu-coai/COLDataset "
        "(copied unchanged).",
        licence="Apache-2.0 (`cold/LICENSE`).",
        citation="Jiawen Deng, Jingyan Zhou, Hao Sun, Chujie Zheng, Fei Mi, Helen Meng and "
        "Minlie Huang, *COLD: A Benchmark for Chinese Offensive Language "
        "Detection*, EMNLP 2022.",
        caveats=(
            "Official splits are kept: a row's split is the file it is in (25,726 / 6,431 / "
            "5,323, the paper's sizes). dev.csv's own `split` column says `train` for "
            "about half of its rows (counted below); the loader ignores that column.",
            "The official splits share some normalised texts (counted under *Splits*); "
            "`dedupe(df, across_splits=True)` drops the copies on the less held-out side "
            "when a leak-free train set is wanted. Published COLD results use the splits "
            "as given, so comparisons with the paper must too.",
            "The category column holds COLD's topic (race / gender / region), not a "
            "shopping category.",
        ),
    ),
    "spam_sms": CardMeta(
        title="spam_sms_10k — promotional and normal SMS",
        about="Chinese SMS labelled promotional spam (ads, recruitment, shop promotions) "
        "or normal. Quanzi's real-text source for the `ad` moderation label.",
        source="`spam_sms/spam_sms_10k.csv`, the sample shipped with "
        "https://github.com/ZPdesu/Spam-Message-Classifier-sklearn (drawn from a "
        "public corpus of 800k SMS), converted from two JSON lists to one CSV.",
        licence="No licence stated in the source repository: research-only, as above.",
        citation="ZPdesu, *Spam-Message-Classifier-sklearn*, "
        "https://github.com/ZPdesu/Spam-Message-Classifier-sklearn.",
        caveats=(
            "Numbers (phones, prices, dates) were masked as runs of `x` in the original: "
            "contact detectors see `xxxxxxxxxxx`, not digits (rows with masks counted "
            "in the table above). Do not train digit-sensitive detectors on it.",
            "Spam is about a tenth of the rows; report per-class F1, not accuracy.",
            "Not shopping text: many normal rows are news-like sentences.",
        ),
    ),
}

_MASK = re.compile(r"(?<![A-Za-z])x+(?![A-Za-z])")
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def corpus_stats(
    name: str, frames: Mapping[str, pd.DataFrame], corpora_dir: Path
) -> dict[str, Any]:
    """Measure one corpus; ``frames`` holds every loaded corpus (for overlaps)."""
    spec = CORPORA[name]
    df = frames[name]
    raw = _read(spec, corpora_dir)
    files = [
        {"file": str(p.relative_to(corpora_dir)), "bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in _source_files(spec, corpora_dir)
    ]
    text_raw = raw[spec.text_column].astype(str)
    label_ok = pd.to_numeric(raw[spec.label_column], errors="coerce").notna()
    lengths = df["text"].str.len()
    norm_groups = df.groupby("norm")
    split_count = norm_groups["split"].nunique()
    straddling = split_count[split_count > 1].index
    exact_split_count = df.groupby("text")["split"].nunique()
    label_count = norm_groups["label"].nunique()

    stats: dict[str, Any] = {
        "name": name,
        "files": files,
        "raw_rows": len(raw),
        "rows": len(df),
        "dropped_label": int((~label_ok).sum()),
        "dropped_empty": int(len(raw) - len(df) - (~label_ok).sum()),
        "labels": {int(k): int(v) for k, v in df["label"].value_counts().sort_index().items()},
        "label_meaning": spec.label_meaning,
        "splits": {
            s: {
                int(k): int(v)
                for k, v in df.loc[df["split"] == s, "label"].value_counts().sort_index().items()
            }
            for s in SPLITS
        },
        "official_splits": spec.official_splits,
        "categories": [
            (str(cat), len(part), float(part["label"].mean()))
            for cat, part in sorted(df.groupby("category"), key=lambda kv: -len(kv[1]))
        ],
        "length": {q: int(lengths.quantile(q / 100)) for q in (10, 50, 90)}
        | {"max": int(lengths.max()), "norm_p50": int(df["norm"].str.len().median())},
        "exact_dup_rows": int(len(df) - df["text"].nunique()),
        "exact_dup_texts": int((df["text"].value_counts() > 1).sum()),
        "norm_dup_rows": int(len(df) - df["norm"].nunique()),
        "norm_dup_texts": int((df["norm"].value_counts() > 1).sum()),
        "norm_label_conflicts": int((label_count > 1).sum()),
        "cross_split_norm_texts": len(straddling),
        "cross_split_rows": int(df["norm"].isin(straddling).sum()),
        "cross_split_exact_texts": int((exact_split_count > 1).sum()),
        "changed_by_norm": int((df["text"] != df["norm"]).sum()),
        "fullwidth_rows": int(df["text"].str.contains(_FULLWIDTH).sum()),
        "invisible_rows": int(sum(strip_invisible(t) != t for t in text_raw)),
        "traditional_rows": int(sum(to_simplified(t) != t for t in df["text"])),
        "replacement_char_rows": int(df["text"].str.contains("\ufffd", regex=False).sum()),
        "bom_rows": int(text_raw.str.startswith("\ufeff").sum()),
        "overlap": {},
        "extra": {},
    }
    mine = set(df["norm"])
    for other, other_df in frames.items():
        if other != name:
            shared = mine.intersection(other_df["norm"])
            stats["overlap"][other] = len(shared)
    if name == "spam_sms":
        stats["extra"]["Rows with `x`-masked numbers"] = int(df["text"].str.contains(_MASK).sum())
    if spec.official_splits and "split" in raw.columns:
        disagree = raw["split"].str.strip() != raw["file_split"]
        stats["extra"]["Rows whose `split` column disagrees with their file"] = int(disagree.sum())
    return stats


CARD_TEMPLATE = Template("""\
# Data card: ${title}

<!-- Written by `quanzi data cards`; edit CARD_META in datasets/datacards.py, not this file. -->

${about}

| | |
|---|---|
| Corpus name (`load_corpus`) | `${name}` |
| Source | ${source} |
| Licence | ${licence} |
| Citation | ${citation} |
| Label | ${label_meaning} |

## Size and labels

| | |
|---|---|
| Rows in the source files | ${raw_rows} |
| Rows loaded | ${rows} |
| Dropped: label not a number | ${dropped_label} |
| Dropped: empty after normalisation | ${dropped_empty} |
${label_rows}

## Splits

${split_rule}

| split | rows | share | label 0 | label 1 |
|---|---:|---:|---:|---:|
${split_rows}

| | |
|---|---|
| Normalised texts in more than one split | ${cross_split_norm_texts} |
| Rows carrying such a text | ${cross_split_rows} |
| Exact texts in more than one split | ${cross_split_exact_texts} |

## Categories

| category | rows | share | label 1 share |
|---|---:|---:|---:|
${category_rows}

## Length (characters of the text as written)

| p10 | p50 | p90 | max | p50 normalised |
|---:|---:|---:|---:|---:|
| ${p10} | ${p50} | ${p90} | ${max} | ${norm_p50} |

## Duplicates

| | rows beyond the first copy | distinct texts with copies |
|---|---:|---:|
| Exact (text as written) | ${exact_dup_rows} | ${exact_dup_texts} |
| Normalised | ${norm_dup_rows} | ${norm_dup_texts} |

Normalised texts whose copies disagree on the label: ${norm_label_conflicts}.
`load_corpus(..., drop_duplicates=True)` or `dedupe()` keeps one row per normalised text.

## Overlap with other corpora (distinct normalised texts shared)

| corpus | shared texts |
|---|---:|
${overlap_rows}

## What normalisation does here

| | rows |
|---|---:|
| Normalised text differs from the text | ${changed_by_norm} |
| Contains full-width forms | ${fullwidth_rows} |
| Contains zero-width, control or format characters (removed) | ${invisible_rows} |
| Contains traditional characters (t2s changes it) | ${traditional_rows} |
| Contains U+FFFD (broken encoding in the source) | ${replacement_char_rows} |
| Starts with a byte-order mark (stripped from `text` too) | ${bom_rows} |
${extra_rows}

## Known caveats

${caveats}

## Generated

Measured by `quanzi data cards` on ${date} on ${machine}; normaliser `${normalizer}`.

| file | bytes | sha256 |
|---|---:|---|
${file_rows}
""")


def render_card(stats: Mapping[str, Any], generated: Mapping[str, str]) -> str:
    """The markdown card of one corpus from its ``corpus_stats`` and the run's details."""
    name = stats["name"]
    meta = CARD_META[name]
    rows = stats["rows"]
    label_rows = "\n".join(
        f"| Label {label} | {n} ({_pct(n, rows)}) |" for label, n in stats["labels"].items()
    )
    if stats["official_splits"]:
        split_rule = (
            "Official splits, kept as published (a row's split is its file). Texts "
            "may repeat across them; the count below is a fact about the corpus."
        )
    else:
        fractions = " / ".join(f"{int(100 * f)}" for f in SPLIT_FRACTIONS.values())
        split_rule = (
            f"Hash split {fractions} (train / dev / test) on the normalised text "
            "(`hash_split`): the same on every machine, and a normalised text is in "
            "exactly one split, in this corpus and in every other one, so the "
            "counts below are 0 by construction (and tested)."
        )
    split_rows = "\n".join(
        f"| {s} | {sum(c.values())} | {_pct(sum(c.values()), rows)} | {c.get(0, 0)} | "
        f"{c.get(1, 0)} |"
        for s, c in stats["splits"].items()
    )
    category_rows = "\n".join(
        f"| {cat} | {n} | {_pct(n, rows)} | {100 * pos:.1f}% |"
        for cat, n, pos in stats["categories"]
    )
    overlap_rows = "\n".join(f"| {o} | {n} |" for o, n in stats["overlap"].items())
    extra_rows = "\n".join(f"| {k} | {v} |" for k, v in stats["extra"].items())
    file_rows = "\n".join(
        f"| `{f['file']}` | {f['bytes']} | `{f['sha256']}` |" for f in stats["files"]
    )
    return CARD_TEMPLATE.substitute(
        title=meta.title,
        about=meta.about,
        source=meta.source,
        licence=meta.licence,
        citation=meta.citation,
        caveats="\n".join(f"- {c}" for c in meta.caveats),
        label_rows=label_rows,
        split_rule=split_rule,
        split_rows=split_rows,
        category_rows=category_rows,
        overlap_rows=overlap_rows,
        extra_rows=extra_rows,
        file_rows=file_rows,
        p10=stats["length"][10],
        p50=stats["length"][50],
        p90=stats["length"][90],
        max=stats["length"]["max"],
        norm_p50=stats["length"]["norm_p50"],
        **{k: v for k, v in stats.items() if isinstance(v, (int, str))},
        **generated,
    )


def machine_description() -> str:
    """Where the numbers were measured (for the cards' generated section)."""
    return (
        f"{platform.node() or 'unknown host'} ({platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, pandas "
        f"{pd.__version__})"
    )


def load_all(
    corpora_dir: Path,
    names: Iterable[str] = tuple(CORPORA),
    on_loaded: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Load corpora (cached after the first time); ``on_loaded`` reports progress."""
    frames = {}
    for name in names:
        frames[name] = load_corpus(name, corpora_dir)
        if on_loaded:
            on_loaded(name)
    return frames


def write_cards(
    out_dir: Path,
    corpora_dir: Path,
    frames: Mapping[str, pd.DataFrame],
    names: Iterable[str] = tuple(CORPORA),
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Measure and write ``<out_dir>/<name>.md`` for each corpus in ``names``."""
    generated = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "normalizer": normalizer_version(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out_dir / f"{name}.md"
        path.write_text(
            render_card(corpus_stats(name, frames, corpora_dir), generated), encoding="utf-8"
        )
        written.append(path)
        if on_written:
            on_written(path)
    return written
