"""The trust predictor: a post's base level L2–L6 with probabilities and top reasons.

Inputs (``trust-levels.md``): the text, whether the post is a verified purchase, and the
author's provenance in ``record["author"]`` — every key optional:

| key | meaning |
|---|---|
| ``kind`` | ``user`` / ``creator`` / ``merchant`` |
| ``creator_certified`` | 达人认证 |
| ``follower_count`` | platform-wide followers |
| ``account_age_days`` | age of the account when the post was written |
| ``is_brand_account`` | a merchant account of the circle's own brand |
| ``post_count`` | the author's posts before this one (history) |
| ``verified_share`` | share of those earlier posts that were verified purchases |

A missing value is encoded as unknown (its own indicator), never guessed. The model is a
multinomial logistic regression over char TF-IDF of the text plus these provenance
features (``PROVENANCE``); the base level is viewer-independent, so the L1 lift for
friends is not applied here (the ranker applies it).

Reasons: the predicted level's strongest signed contributions, grouped into signals a
person can read ("verified purchase", "certified creator with 120k followers", "text:
«返现» «领券»"), sorted by absolute contribution (in logits against the average level).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from quanzi.datasets.normalize import normalize
from quanzi.models.module_stack import load_tfidf_head, save_modules
from quanzi.models.quality import texts_of
from quanzi.models.text_linear import CharTfidf, SoftmaxHead

REGISTERED_MODEL = "quanzi-trust"
LEVELS = (2, 3, 4, 5, 6)
LEVEL_NAMES = {
    2: "creator/KOL share",
    3: "post-purchase share",
    4: "publicity / expert says",
    5: "advertising",
    6: "disguised promotion",
}
FORMAT_VERSION = 2  # 2: modules.json (models/module_stack.py); 1: fixed folders, still read
AUTHOR_KINDS = ("user", "creator", "merchant")

# Provenance feature → the signal it belongs to (one reason per signal).
PROVENANCE: dict[str, str] = {
    "verified_purchase": "purchase",
    "author_user": "author",
    "author_creator": "author",
    "author_merchant": "author",
    "author_unknown": "author",
    "creator_certified": "author",
    "log_followers": "author",
    "brand_account": "author",
    "log_account_age_days": "account_age",
    "account_age_unknown": "account_age",
    "log_prior_posts": "history",
    "prior_verified_share": "history",
    "history_unknown": "history",
}
TOP_REASONS = 4
TEXT_CUES = 3


def _num(value: Any) -> float | None:
    """A finite float, or None for missing / non-numeric / NaN."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def provenance_row(record: dict[str, Any]) -> list[float]:
    """The ``PROVENANCE`` features of one record, in order."""
    author = record.get("author") or {}
    if not isinstance(author, dict):
        raise ValueError("'author' must be an object")
    kind = author.get("kind")
    followers = _num(author.get("follower_count"))
    age = _num(author.get("account_age_days"))
    posts = _num(author.get("post_count"))
    share = _num(author.get("verified_share"))
    return [
        float(bool(record.get("verified_purchase"))),
        float(kind == "user"),
        float(kind == "creator"),
        float(kind == "merchant"),
        float(kind not in AUTHOR_KINDS),
        float(bool(author.get("creator_certified"))),
        math.log1p(max(followers, 0.0)) if followers is not None else 0.0,
        float(bool(author.get("is_brand_account"))),
        math.log1p(max(age, 0.0)) if age is not None else 0.0,
        float(age is None),
        math.log1p(max(posts, 0.0)) if posts is not None else 0.0,
        min(max(share, 0.0), 1.0) if share is not None and posts else 0.0,
        float(posts is None),
    ]


def _people(n: float) -> str:
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,.0f}"


def describe_signal(signal: str, record: dict[str, Any]) -> str:
    """Human-readable text of one provenance signal of a record."""
    author = record.get("author") or {}
    if signal == "purchase":
        return "verified purchase" if record.get("verified_purchase") else "no verified purchase"
    if signal == "author":
        kind = author.get("kind")
        followers = _num(author.get("follower_count"))
        fans = f" with {_people(followers)} followers" if followers is not None else ""
        if kind == "merchant":
            own = "the brand's own" if author.get("is_brand_account") else "a"
            return f"{own} merchant account{fans}"
        if kind == "creator":
            cert = "certified" if author.get("creator_certified") else "uncertified"
            return f"{cert} creator{fans}"
        if kind == "user":
            return f"ordinary user{fans}"
        return "author kind unknown"
    if signal == "account_age":
        age = _num(author.get("account_age_days"))
        if age is None:
            return "account age unknown"
        return f"account {age / 365:.1f} years old" if age >= 365 else f"account {age:.0f} days old"
    if signal == "history":
        posts = _num(author.get("post_count"))
        if posts is None:
            return "posting history unknown"
        if not posts:
            return "first post by this author"
        share = _num(author.get("verified_share")) or 0.0
        return f"{posts:.0f} earlier posts, {share:.0%} of them verified purchases"
    raise ValueError(f"unknown signal {signal!r}")


@dataclass
class TrustPredictor:
    """Char TF-IDF of the text + provenance features → softmax over L2–L6, with reasons."""

    tfidf: CharTfidf
    head: SoftmaxHead
    config: dict[str, Any] = field(default_factory=dict)
    name: str = REGISTERED_MODEL

    def features(self, records: Sequence[dict[str, Any]]) -> sp.csr_matrix:
        texts = [normalize(t) for t in texts_of(records)]
        dense = np.array([provenance_row(r) for r in records], dtype=np.float64).reshape(
            len(records), len(PROVENANCE)
        )
        return self.head.design(self.tfidf.transform(texts), dense)

    def proba(self, records: Sequence[dict[str, Any]]) -> np.ndarray:
        """(n, 5) probabilities of L2…L6."""
        if len(records) == 0:
            return np.zeros((0, len(LEVELS)))
        return self.head.predict_proba(self.features(records))

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``{"level": "L3", "probs": {"L2": …, …, "L6": …}, "reasons": [...]}`` per record."""
        if len(records) == 0:
            return []
        X = self.features(records)
        probs = self.head.predict_proba(X)
        best = probs.argmax(axis=1)
        reasons = self.reasons(X, best, records)
        return [
            {
                "level": f"L{self.head.classes[k]}",
                "probs": {
                    f"L{c}": round(float(p), 4)
                    for c, p in zip(self.head.classes, probs[i], strict=True)
                },
                "reasons": reasons[i],
            }
            for i, k in enumerate(best)
        ]

    def reasons(
        self, X: sp.csr_matrix, classes: np.ndarray, records: Sequence[dict[str, Any]]
    ) -> list[list[dict[str, Any]]]:
        """Per row, the strongest signals for (positive) or against (negative) its class,
        by |contribution| in logits against the average level (``SoftmaxHead.contributions``
        arithmetic, vectorised over the batch)."""
        rel = self.head.derived()[1]  # (levels, features): coef less its class mean
        n_text = len(self.tfidf.terms)
        signals = sorted(set(PROVENANCE.values()))
        member = np.zeros((len(PROVENANCE), len(signals)))
        for j, name in enumerate(self.head.dense_names):
            member[j, signals.index(PROVENANCE[name])] = 1.0
        dense = X[:, n_text:].toarray()  # (n, n_provenance) standardised values
        by_signal = (dense * rel[classes, n_text:]) @ member  # (n, n_signals)
        out = []
        for i, k in enumerate(classes):
            level = self.head.classes[k]
            items = [
                {
                    "signal": s,
                    "reason": describe_signal(s, records[i]),
                    "contribution": round(float(c), 4),
                }
                for s, c in zip(signals, by_signal[i], strict=True)
            ]
            lo, hi = X.indptr[i], X.indptr[i + 1]
            cols, data = X.indices[lo:hi], X.data[lo:hi]
            text = cols < n_text
            if text.any():
                t_cols = cols[text]
                t_contrib = data[text] * rel[k, t_cols]
                items.append(self._text_reason(t_cols, t_contrib, level))
            items.sort(key=lambda r: -abs(r["contribution"]))
            out.append(items[:TOP_REASONS])
        return out

    def _text_reason(self, cols: np.ndarray, contrib: np.ndarray, level: int) -> dict[str, Any]:
        """One reason for the whole text, naming its strongest n-grams in that direction."""
        total = float(contrib.sum())
        order = np.argsort(-contrib if total >= 0 else contrib)
        cues: list[str] = []
        for idx in order[:50]:
            if len(cues) == TEXT_CUES or (contrib[idx] <= 0) == (total >= 0):
                break
            term = self.tfidf.terms[cols[idx]]
            if len(term) < 2 or not term.isalnum() or any(term in c or c in term for c in cues):
                continue
            cues.append(term)
        cue_text = " ".join(f"«{c}»" for c in cues) if cues else "wording"
        towards = "points to" if total >= 0 else "points away from"
        return {
            "signal": "text",
            "reason": f"text {cue_text} {towards} L{level} ({LEVEL_NAMES[level]})",
            "contribution": round(total, 4),
        }

    def save(self, path: Path) -> None:
        """The ``tfidf`` and ``head`` modules (``modules.json``, ``models/module_stack.py``) and
        ``config.json`` (JSON and safetensors only)."""
        save_modules(path, {"tfidf": self.tfidf, "head": self.head})
        meta = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "provenance": PROVENANCE,
            "levels": list(LEVELS),
            "config": self.config,
        }
        (path / "config.json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path) -> TrustPredictor:
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path / 'config.json'} is missing: not a trust model")
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
        tfidf, head = load_tfidf_head(path, meta.get("format_version"))
        if meta.get("provenance") != PROVENANCE:
            raise ValueError(f"{path}: saved with other provenance features than this code")
        if head.dense_names != list(PROVENANCE):
            raise ValueError(f"{path}: head features do not match the provenance features")
        return cls(
            tfidf=tfidf,
            head=head,
            config=meta.get("config", {}),
            name=meta.get("name", REGISTERED_MODEL),
        )
