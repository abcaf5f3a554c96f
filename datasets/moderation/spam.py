"""The labelled ``spam`` (灌水) set: filler and copy-paste posts against real reviews.

- Real reviews (label 0): sampled per split from the distinct review texts; any whose
  normalised text equals a generated filler text is left out (it would sit on both sides).
  On top of the sample, EVERY review of the split with at least ``min_latin`` latin letters
  (English or mixed-language reviews, model names, links): they are a few hundred of
  ~80,000, so a random sample holds almost none, and without them latin letters are only
  ever seen in ``random_chars`` / ``keyboard_mash`` filler and an English review reads as
  filler. They are ``kind="real_latin"``: classifier rows only, not copy sources nor part
  of the near-duplicate sets (many hotel ones share the travel site's page footer, so they
  read as copies of each other and would push the copy threshold up).
- Filler (label 1), one named ``kind`` per row. The circle world's generators are imported
  for ``repeated_chars``, ``default_review``, ``template`` and ``random_chars``; this module
  adds ``punctuation`` and ``keyboard_mash``. A filler text has no host, so its split is the
  corpora's ``hash_split`` of its normalised text: the same filler string is never in two
  splits, and test measures filler the model has not seen verbatim.
- ``copy_paste`` (label 1): a copy of another real review of the same split, verbatim or
  lightly edited, with ``duplicate_of`` naming the original (``corpus:row``) and ``order``
  placing it after the original. A text classifier cannot tell a copy from its original;
  a near-duplicate lookup against earlier posts can (``models/baseline.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd

from quanzi.datasets.corpora import SPLITS, hash_split
from quanzi.datasets.moderation.hosts import derive_seed, distinct_hosts, sample_split
from quanzi.datasets.normalize import normalize
from quanzi.datasets.world.content import filler_text

WORLD_FILLER_KINDS = ("repeated_chars", "default_review", "template", "random_chars")
PUNCTUATION_POOL = (
    "。",
    "！",
    "？",
    "~",
    "…",
    "!",
    "?",
    ".",
    "，",
    "👍",
    "😂",
    "🌹",
    "[赞]",
    "[微笑]",
)
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
# What a pinyin IME prints when a keyboard is mashed (asd → 阿斯顿, sd → 实打实).
IME_MASH = (
    "阿斯顿",
    "实打实",
    "阿萨德",
    "撒旦法",
    "是的是的",
    "啊啊啊",
    "哈哈哈",
    "嗯嗯嗯",
    "的的的",
    "顶顶顶",
    "水水水",
)
FILLER_KINDS = (*WORLD_FILLER_KINDS, "punctuation", "keyboard_mash")
SPAM_KINDS = (*FILLER_KINDS, "copy_paste")
COPY_EDITS = ("verbatim", "append", "punctuation")
COPY_APPENDS = ("！", "👍", "~", "。。", "，推荐", " 好评")


def punctuation_text(rng: random.Random) -> str:
    """Only punctuation, emoji and bracketed emoticons."""
    return "".join(rng.choice(PUNCTUATION_POOL) for _ in range(rng.randint(3, 12)))


def keyboard_mash_text(rng: random.Random) -> str:
    """A run along one keyboard row, repeated or jumbled, or pinyin-IME mash."""
    if rng.random() < 0.4:
        return "".join(rng.choice(IME_MASH) for _ in range(rng.randint(1, 4)))
    row = rng.choice(KEYBOARD_ROWS)
    start = rng.randrange(len(row) - 2)
    run = row[start : start + rng.randint(3, len(row) - start)]
    if rng.random() < 0.5:
        return run * rng.randint(1, 4)
    return "".join(rng.choice(run) for _ in range(rng.randint(6, 16)))


def make_filler(rng: random.Random, kind: str) -> str:
    """One filler text of ``kind`` (one of ``FILLER_KINDS``)."""
    if kind in WORLD_FILLER_KINDS:
        return filler_text(rng, kind)
    if kind == "punctuation":
        return punctuation_text(rng)
    if kind == "keyboard_mash":
        return keyboard_mash_text(rng)
    raise ValueError(f"unknown filler kind {kind!r}; choose one of {FILLER_KINDS}")


def copy_of(rng: random.Random, text: str) -> tuple[str, str]:
    """A copy-paste duplicate of ``text``: (edit name, copied text)."""
    edit = rng.choice(COPY_EDITS)
    if edit == "append":
        return edit, text + rng.choice(COPY_APPENDS)
    if edit == "punctuation":
        swapped = text.replace("，", ",").replace("。", ".").replace("！", "!")
        if swapped == text:
            swapped = text.rstrip("。.!！") + rng.choice(("。", "！", "~"))
        return edit, swapped
    return edit, text


@dataclass(frozen=True)
class SpamDataConfig:
    """Real-review hosts per split, and filler / copy rows as shares of them."""

    seed: int = 13
    n_train: int = 10_000
    n_dev: int = 1_500
    n_test: int = 3_000
    filler_share: float = 0.3
    copy_share: float = 0.05
    min_latin: int | None = 12  # latin letters that make a review a latin negative (None: off)

    def n_for(self, split: str) -> int:
        return {"train": self.n_train, "dev": self.n_dev, "test": self.n_test}[split]


SPAM_COLUMNS = (
    "text",
    "norm",
    "label",
    "kind",
    "edit",
    "split",
    "corpus",
    "row",
    "category",
    "duplicate_of",
    "order",
)


def _filler_rows(cfg: SpamDataConfig) -> list[dict[str, object]]:
    """Filler texts until every (split, kind) quota is met, each in its hash split."""
    rng = random.Random(derive_seed(cfg.seed, "spam-filler"))
    quota = {
        (split, kind): round(cfg.n_for(split) * cfg.filler_share / len(FILLER_KINDS))
        for split in SPLITS
        for kind in FILLER_KINDS
    }
    rows: list[dict[str, object]] = []
    # A kind with few distinct strings (default reviews) may never fill a small split: a
    # kind that has placed nothing in 300 draws in a row is closed.
    misses = dict.fromkeys(FILLER_KINDS, 0)
    split_of: dict[str, str] = {}
    while True:
        open_kinds = sorted({k for (_, k), q in quota.items() if q > 0 and misses[k] < 300})
        if not open_kinds:
            break
        kind = rng.choice(open_kinds)
        text = make_filler(rng, kind)
        if text not in split_of:
            norm = normalize(text)
            split_of[text] = hash_split(norm) if norm else "train"
        split = split_of[text]
        if quota[(split, kind)] > 0:
            quota[(split, kind)] -= 1
            misses[kind] = 0
            rows.append({"text": text, "label": 1, "kind": kind, "split": split})
        else:
            misses[kind] += 1
    return rows


def build_spam_dataset(reviews: pd.DataFrame, config: SpamDataConfig | None = None) -> pd.DataFrame:
    """The ``spam`` set from real-review hosts (see the module docstring)."""
    cfg = config or SpamDataConfig()
    filler = _filler_rows(cfg)
    filler_norms = {normalize(str(r["text"])) for r in filler}
    pool = distinct_hosts(reviews)
    pool = pool[~pool["norm"].isin(filler_norms)]
    rows: list[dict[str, object]] = []
    for split in SPLITS:
        hosts = sample_split(pool, split, cfg.n_for(split), cfg.seed, "spam-hosts")
        if cfg.min_latin is not None:
            in_split = pool[pool["split"] == split]
            latin = in_split[
                (in_split["norm"].str.count(r"[A-Za-z]") >= cfg.min_latin)
                & ~in_split["norm"].isin(hosts["norm"])
            ]
            for host in latin.itertuples(index=False):
                rows.append(
                    {
                        "text": host.text,
                        "label": 0,
                        "kind": "real_latin",
                        "split": split,
                        "corpus": host.corpus,
                        "row": int(host.row),
                        "category": host.category,
                    }
                )
        rng = random.Random(derive_seed(cfg.seed, "spam-rows", split))
        for host in hosts.itertuples(index=False):
            rows.append(
                {
                    "text": host.text,
                    "label": 0,
                    "kind": "real",
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                }
            )
        n_copies = min(len(hosts), round(cfg.n_for(split) * cfg.copy_share))
        for host in hosts.sample(n=n_copies, random_state=rng.randrange(2**32)).itertuples():
            edit, text = copy_of(rng, host.text)
            rows.append(
                {
                    "text": text,
                    "label": 1,
                    "kind": "copy_paste",
                    "edit": edit,
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                    "duplicate_of": f"{host.corpus}:{int(host.row)}",
                }
            )
    df = pd.DataFrame(
        rows + filler, columns=[c for c in SPAM_COLUMNS if c not in ("norm", "order")]
    )
    df = df.fillna({"edit": "", "corpus": "", "category": "", "duplicate_of": "", "row": -1})
    df["row"] = df["row"].astype(int)
    df.insert(1, "norm", df["text"].map(normalize))
    # Posting order within a split: random, except that every copy comes after its original.
    rng = random.Random(derive_seed(cfg.seed, "spam-order"))
    order = list(range(len(df)))
    rng.shuffle(order)
    df["order"] = order
    real = df[df["kind"] == "real"]
    originals = real.set_index(real["corpus"] + ":" + real["row"].astype(str))
    copies = df["kind"] == "copy_paste"
    source_order = df.loc[copies, "duplicate_of"].map(originals["order"])
    df.loc[copies, "order"] = df.loc[copies, "order"].where(
        df.loc[copies, "order"] > source_order, source_order + len(df)
    )
    return df
