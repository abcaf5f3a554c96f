"""The hand-written moderation training rows (``written/train.jsonl``) and their variants.

Why: three policy labels (fraud, gambling, sexual) have no public Chinese corpus we may
use, and the evasions of the older labels (platform nicknames, pinyin insults, soft ads)
are rare in the corpora we have. Four writers wrote 2,809 rows by hand for issue 12 (the
data card, ``written/README.md``, says how); this module reads them, splits them by a stable
hash of the id (``dev`` one row in five, for thresholds; the rest ``train``), and makes
obfuscated variants of train rows the way posters dodge filters (separators, emoji and
zero-width characters between the characters of a phrase). The adversarial held-out set
(``adversarial.py``) is never read here.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pandas as pd

from quanzi.datasets.gold import jsonl_records
from quanzi.datasets.normalize import normalize

WRITTEN_FILE = Path(__file__).resolve().parent / "written" / "train.jsonl"
WRITTEN_LABELS = ("contact", "ad", "offensive", "spam", "privacy", "fraud", "gambling", "sexual")
DEV_SHARE = 5  # one row in DEV_SHARE goes to dev
SEPARATORS = ("✖", "❤", "⭐", "·", " ", "*", "_", "🔥", "✨", "|", "~", "\u200b", "💰", "👉")


def _split_of(row_id: str) -> str:
    digest = hashlib.sha1(f"written\x00{row_id}".encode()).digest()
    return "dev" if digest[0] % DEV_SHARE == 0 else "train"


def load_written(path: Path = WRITTEN_FILE) -> pd.DataFrame:
    """Every written row: ``id, text, norm, labels (tuple), category, split``."""
    rows = []
    for _, raw in jsonl_records(path):
        labels = tuple(raw.get("labels") or ())
        unknown = set(labels) - set(WRITTEN_LABELS)
        if unknown:
            raise ValueError(f"{path}: row {raw.get('id')} has unknown labels {sorted(unknown)}")
        rows.append(
            {
                "id": raw["id"],
                "text": raw["text"],
                "norm": normalize(raw["text"]),
                "labels": labels,
                "category": raw.get("category", ""),
                "split": _split_of(raw["id"]),
            }
        )
    return pd.DataFrame(rows, columns=["id", "text", "norm", "labels", "category", "split"])


def obfuscate(rng: random.Random, text: str) -> str:
    """One evasive variant: a separator between every character of a random window of
    2–8 characters (兼职日结 → 兼✖职✖日✖结), sometimes twice."""
    out = text
    for _ in range(rng.choice((1, 1, 2))):
        if len(out) < 3:
            break
        width = rng.randint(2, min(8, len(out)))
        start = rng.randint(0, len(out) - width)
        sep = rng.choice(SEPARATORS)
        window = sep.join(out[start : start + width])
        out = out[:start] + window + out[start + width :]
    return out


def written_frame(label: str, copies: int = 2, seed: int = 13) -> pd.DataFrame:
    """Rows teaching ``label``: every written row (1 when it carries the label, else 0)
    plus ``copies`` obfuscated variants of each train row, with ``split`` and ``kind``."""
    df = load_written()
    df = df.assign(
        label=df["labels"].map(lambda labels: int(label in labels)),
        kind="written",
        transform="",
    )
    rng = random.Random(f"{seed}:{label}")
    variants = []
    for row in df[df["split"] == "train"].itertuples():
        for k in range(copies):
            text = obfuscate(rng, row.text)
            variants.append(
                {
                    "id": f"{row.id}~{k}",
                    "text": text,
                    "norm": normalize(text),
                    "labels": row.labels,
                    "category": row.category,
                    "split": "train",
                    "label": row.label,
                    "kind": "written_variant",
                    "transform": "separators",
                }
            )
    return pd.concat([df, pd.DataFrame(variants, columns=df.columns)], ignore_index=True)
