"""Real host texts for the moderation data builders, and weaving a phrase into one.

Why hosts: synthetic moderation data is only useful when the surrounding text is real, so
every positive and every negative of the ``contact``, ``ad`` and ``spam`` sets is (or
contains) a real review or SMS from the shared corpora, and inherits its corpus split.
That keeps the builders leak-free by construction: a host text in train never appears in
test, because the corpora's hash splits never straddle.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from quanzi.datasets.corpora import SPLITS, load_corpus, load_reviews
from quanzi.datasets.world.content import weave

HOST_COLUMNS = ("text", "norm", "label", "category", "split", "corpus", "row")
# A host longer than this dilutes a woven snippet past what any post in a circle looks
# like; it is skipped (documented in the README).
MAX_HOST_CHARS = 400


def load_hosts(corpora_dir: Path | str | None = None, *, with_sms: bool = True) -> pd.DataFrame:
    """Real reviews (all three review corpora) plus, optionally, the normal (ham) SMS.

    Promotional SMS are never hosts (they are ``ad`` positives), nor are SMS whose numbers
    were masked as ``xxx`` in the source (the mask would read as an obfuscated number).
    """
    frames = [load_reviews(corpora_dir)]
    if with_sms:
        sms = load_corpus("spam_sms", corpora_dir)
        sms = sms[(sms["label"] == 0) & ~sms["text"].str.contains("x{3,}", regex=True)]
        sms.insert(0, "corpus", "spam_sms")
        frames.append(sms)
    return pd.concat(frames, ignore_index=True)[list(HOST_COLUMNS)]


@dataclass(frozen=True)
class ModerationSources:
    """The corpora every moderation set is built from (training and ``bench baselines``)."""

    hosts: pd.DataFrame  # ``load_hosts``: real reviews and normal SMS
    reviews: pd.DataFrame  # the review hosts only
    sms: pd.DataFrame  # the SMS corpus (ad positives and normal messages)
    cold: pd.DataFrame  # COLD, optionally ``cold_limit`` rows per split


def load_sources(
    corpora_dir: Path | str | None, cold_limit: int | None = None, seed: int = 0
) -> ModerationSources:
    """Load the moderation sources; ``cold_limit`` samples COLD per split (with ``seed``)."""
    hosts = load_hosts(corpora_dir)
    cold = load_corpus("cold", corpora_dir)
    if cold_limit is not None:
        cold = pd.concat(
            [
                part.sample(n=min(len(part), cold_limit), random_state=seed)
                for _, part in cold.groupby("split")
            ]
        )
    return ModerationSources(
        hosts, hosts[hosts["corpus"] != "spam_sms"], load_corpus("spam_sms", corpora_dir), cold
    )


def distinct_hosts(hosts: pd.DataFrame, max_chars: int = MAX_HOST_CHARS) -> pd.DataFrame:
    """One row per normalised text, short enough to host a snippet.

    Distinct texts mean no row of a built set is a verbatim copy of another, so a copy is
    only ever there on purpose (the ``copy_paste`` spam kind).
    """
    missing = set(HOST_COLUMNS) - set(hosts.columns)
    if missing:
        raise ValueError(f"host frame lacks columns {sorted(missing)}")
    out = hosts[(hosts["norm"].str.len() > 0) & (hosts["text"].str.len() <= max_chars)]
    return out.drop_duplicates("norm").reset_index(drop=True)


def sample_split(hosts: pd.DataFrame, split: str, n: int, seed: int, salt: str) -> pd.DataFrame:
    """Up to ``n`` hosts of one split in a seeded random order (fewer if the split is small)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    pool = hosts[hosts["split"] == split]
    return pool.sample(n=min(n, len(pool)), random_state=derive_seed(seed, salt, split))


def derive_seed(seed: int, *parts: str) -> int:
    """A stable 32-bit seed for one (seed, purpose) pair; independent of PYTHONHASHSEED."""
    digest = hashlib.sha256("\x00".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def weave_span(rng: random.Random, text: str, phrase: str) -> tuple[str, int, int]:
    """Weave ``phrase`` into ``text`` at a sentence boundary (the world generator's
    ``weave``) and return the new text with the phrase's character span."""
    woven = weave(rng, text, phrase)
    # weave inserts the phrase verbatim once; the leftmost occurrence at or after the
    # point where the texts diverge is it (the host itself may contain the phrase).
    diverge = next(
        (i for i, (a, b) in enumerate(zip(woven, text, strict=False)) if a != b), len(text)
    )
    start = woven.find(phrase, max(0, diverge - len(phrase)))
    if start < 0:  # pragma: no cover - weave always inserts the phrase verbatim
        raise RuntimeError("weave did not insert the phrase verbatim")
    return woven, start, start + len(phrase)


# The collateral report's row of a review: its shopping category, or for the single-domain
# corpora their name.
REVIEW_GROUPS = {"waimai": "外卖 (waimai_10k)", "hotel": "酒店 (ChnSentiCorp_htl)"}


def review_group(corpus: str, category: str) -> str:
    """The collateral-report row of a review: its shopping category, or its corpus."""
    return REVIEW_GROUPS.get(corpus, category)
