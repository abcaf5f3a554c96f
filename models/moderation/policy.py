"""The moderation policy: every signal about a post → pass / review / reject, in one place.

``moderation-policy.md`` made code. A post's moderation is a list of *labels*, each with a
band (``review`` or ``reject``) and the spans that raised it; the decision is the most
severe band. Where the bands come from:

1. **Learned labels** (offensive, ad, spam, contact): the classifier's score against two
   thresholds chosen on dev and saved with the model (``LabelThresholds``; the predictor,
   ``predictor.py``, applies them with ``level_of``).
2. **Rules** (every label): the contact and privacy detectors (``detectors.py``) and the
   lexicon (``lexicon.py``: platform nicknames, diversion phrasing, pinyin and homophone
   insults, repetition spam, fraud / gambling / sexual phrasing), fixed thresholds on
   their confidences (``DETECTOR_THRESHOLDS``: unambiguous evidence — a handle, a
   diversion phrase, a discriminatory insult — rejects; weaker evidence goes to review).
   A label's band is the higher of its model's and its rules' (``rule_hits``,
   ``rule_scores``); without a model (``RULES_VERSION``) the rules decide alone
   (``detector_moderation``).
3. **Circle rules**: the post's own circle's blocked terms reject and its review-only terms
   send it to review (``circle_rule_label``); another circle's terms never apply.
4. **Near-duplicates**: a text that nearly copies a recent post is spam (the predictor's
   char n-gram check, ``dup_threshold`` saved with the model); a post whose *embedding* is
   within ``NEAR_DUPLICATE_COSINE`` of a stored post of its circle, and that would pass,
   goes to review instead (``post_status``), so an editor sees which post it copies.

``decide`` applies 2–3 to a model's answer (or to none), ``post_status`` applies 4, and
``review_reasons`` says why a post waits in the editors' queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from quanzi.models.moderation.circle_rules import Rules, match_rules
from quanzi.models.moderation.detectors import Hit, detect_contact, detect_privacy
from quanzi.models.moderation.lexicon import detect_lexicon

# Policy order (moderation-policy.md); fraud, gambling and sexual joined in issue 12.
LABELS = ("contact", "privacy", "offensive", "ad", "spam", "fraud", "gambling", "sexual")
SEVERE = ("contact", "privacy", "offensive", "fraud", "gambling", "sexual")  # high risk
BANDS = (None, "review", "reject")  # index = band level
DECISION_RANK = {"pass": 0, "review": 1, "reject": 2}
RULES_VERSION = "rules"  # the moderation version when no model is loaded: detectors + rules
CIRCLE_RULE = "circle_rule"
# Cosine of two posts' embeddings at or above which the later one is a near-duplicate:
# char-level copies and trivial edits sit above it.
NEAR_DUPLICATE_COSINE = 0.95
# ... and a copy only if the texts overlap too (``is_copy``): two people's short praise of
# the same thing ("裤子很合身，质量很好" / "裤子穿上很舒服，质量也不错") embeds above the
# cosine yet shares few character bigrams, while a copy (搬运) shares nearly all of them.
COPY_BIGRAM_JACCARD = 0.6
# A text with fewer distinct bigrams (after punctuation, spaces and repeats are dropped)
# is a stock phrase ("差评！！！", "好评好评"): many people write it; it is nobody's copy.
# (2: the demo world's shortest copied review, "还不错～～～", has 2 and is still caught.)
COPY_MIN_BIGRAMS = 2


@dataclass(frozen=True)
class LabelThresholds:
    """Where a label starts to send posts to review and to reject them, and why there."""

    review: float
    reject: float
    source: str = "dev"  # "dev": chosen on the dev set; "config": fixed (no labelled dev)
    review_target: float | None = None  # precision target each threshold was chosen for
    reject_target: float | None = None
    dev: dict[str, float] = field(default_factory=dict)  # dev precision/recall at each

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.reject:
            raise ValueError(f"need 0 ≤ review ({self.review}) ≤ reject ({self.reject})")


# Rule hits (detectors and lexicon) of every label: a handle, number, e-mail, explicit URL,
# call to add, diversion phrase, insult or scheme (≥ 0.9) rejects; weaker evidence — a
# bare domain (0.7, often a brand's site), a partial location, a mild insult — reviews.
DETECTOR_THRESHOLDS = LabelThresholds(review=0.7, reject=0.9, source="config")
# Privacy is rules only (no labelled dev set), so its thresholds are the rules' too:
# ID-card numbers, a third party's phone and a full address reject; a street address
# without the building goes to review.
PRIVACY_THRESHOLDS = DETECTOR_THRESHOLDS


# --------------------------------------------------------------------------- bands
def level_of(scores: np.ndarray, thresholds: LabelThresholds) -> np.ndarray:
    """Band level per score: 0 (below review), 1 (review band) or 2 (reject band), int."""
    return (scores >= thresholds.review).astype(int) + (scores >= thresholds.reject)


def span_of(hit: Hit) -> dict[str, Any]:
    """A detector hit as a label's span (offsets into the original text)."""
    return {
        "start": hit.start,
        "end": hit.end,
        "text": hit.text,
        "subtype": hit.subtype,
        "evidence": hit.evidence,
    }


def rule_hits(text: str) -> list[Hit]:
    """Every rule hit of ``text``: the contact and privacy detectors and the lexicon.

    A phone number given as someone else's (a courier's, "他的手机号") is privacy, not the
    poster's contact: the contact hit on the same number is dropped.
    """
    hits = detect_contact(text) + detect_privacy(text) + detect_lexicon(text)
    third_party = [h for h in hits if h.label == "privacy" and h.subtype.endswith("phone")]
    if third_party:
        hits = [
            h
            for h in hits
            if not (
                h.label == "contact"
                and h.subtype in ("phone", "lexicon:numerals_phone")
                and any(p.start <= h.start and h.end <= p.end for p in third_party)
            )
        ]
    return hits


def rule_scores(hits: Sequence[Sequence[Hit]], label: str) -> np.ndarray:
    """Per text, the most confident rule hit of ``label`` (0 without one), (n,)."""
    return np.array(
        [max((h.confidence for h in hs if h.label == label), default=0.0) for hs in hits]
    )


def detector_moderation(text: str) -> dict[str, Any]:
    """Moderation without a model: the rules alone, with their bands."""
    labels = []
    hits = rule_hits(text)
    for label in LABELS:
        mine = [h for h in hits if h.label == label and h.confidence > 0]
        if not mine:
            continue
        prob = max(h.confidence for h in mine)
        band = BANDS[int(level_of(np.array([prob]), DETECTOR_THRESHOLDS)[0])]
        if band is None:
            continue
        labels.append(
            {
                "label": label,
                "prob": round(prob, 4),
                "band": band,
                "spans": [span_of(h) for h in mine if h.confidence >= DETECTOR_THRESHOLDS.review],
            }
        )
    return {"decision": decision_of(labels), "labels": labels, "source": RULES_VERSION}


def circle_rule_label(rules: Rules, text: str) -> dict[str, Any] | None:
    """The circle's own terms in ``text`` as a moderation label (a blocked term rejects)."""
    hits = match_rules(rules, text)
    if not hits:
        return None
    blocked = any(h.action == "block" for h in hits)
    return {
        "label": CIRCLE_RULE,
        "prob": 1.0,
        "band": "reject" if blocked else "review",
        "spans": [
            {
                "start": h.start,
                "end": h.end,
                "text": text[h.start : h.end],
                "subtype": "blocked" if h.action == "block" else "review_term",
                "evidence": h.term,
            }
            for h in hits
        ],
    }


# --------------------------------------------------------------------------- decisions
def decision_of(labels: Sequence[dict[str, Any]], base: str = "pass") -> str:
    """The most severe of ``base`` and every label's band."""
    decision = base if base in DECISION_RANK else "pass"
    for entry in labels:
        band = entry.get("band")
        if band in DECISION_RANK and DECISION_RANK[band] > DECISION_RANK[decision]:
            decision = band
    return decision


def risk_of(labels: Sequence[dict[str, Any]]) -> str:
    """high: a severe label rejects; medium: ad/spam/blocked-term reject or a severe label
    in review; low: only ad/spam or a circle review term in review; none: nothing."""
    if not labels:
        return "none"
    if any(e["band"] == "reject" and e["label"] in SEVERE for e in labels):
        return "high"
    if any(e["band"] == "reject" or e["label"] in SEVERE for e in labels):
        return "medium"
    return "low"


def decide(moderation: dict[str, Any] | None, text: str, rules: Rules) -> dict[str, Any]:
    """The post's moderation from the model's answer (None: no model, the detectors
    decide) and its circle's rules (any earlier circle-rule label is replaced)."""
    if moderation is None:
        moderation = detector_moderation(text)
    labels = [dict(e) for e in moderation.get("labels", []) if e.get("label") != CIRCLE_RULE]
    entry = circle_rule_label(rules, text)
    if entry is not None:
        labels.append(entry)
    result = {k: v for k, v in moderation.items() if k not in ("decision", "labels")}
    result["labels"] = labels
    result["decision"] = decision_of(labels, moderation.get("decision", "pass"))
    return result


def _bigrams(text: str) -> set[str]:
    """Distinct character bigrams of ``text`` without punctuation, spaces and runs of one
    character (so "差评！！！！" and "差评！" are the same text)."""
    chars = [c for c in text.lower() if c.isalnum()]
    kept = [c for i, c in enumerate(chars) if i == 0 or c != chars[i - 1]]
    return {a + b for a, b in pairwise(kept)}


def is_copy(text: str, source: str) -> bool:
    """Whether ``text`` copies ``source`` (given that their embeddings are near): a
    specific text (≥ ``COPY_MIN_BIGRAMS`` distinct bigrams) whose bigrams mostly match
    (Jaccard ≥ ``COPY_BIGRAM_JACCARD``)."""
    a, b = _bigrams(text), _bigrams(source)
    if min(len(a), len(b)) < COPY_MIN_BIGRAMS:
        return False
    return len(a & b) / len(a | b) >= COPY_BIGRAM_JACCARD


def post_status(decision: str, near_duplicate_of: str | None) -> str:
    """The stored post's status: the decision, except that a near-duplicate of a stored
    post goes to review rather than pass (copy-paste is spam by the policy, but an editor
    should see which post it copies)."""
    return "review" if near_duplicate_of is not None and decision == "pass" else decision


def review_reasons(
    moderation: dict[str, Any], near_duplicate: tuple[str, float] | None
) -> dict[str, Any]:
    """Why the post waits for an editor, in the review item (``GET /v1/review``)."""
    reasons: dict[str, Any] = {
        "labels": [
            {"label": e["label"], "prob": e.get("prob"), "band": e.get("band")}
            for e in moderation["labels"]
            if e.get("band") in ("review", "reject") or "band" not in e
        ],
    }
    if near_duplicate is not None:
        reasons["near_duplicate_of"] = near_duplicate[0]
        reasons["near_duplicate_cosine"] = round(near_duplicate[1], 4)
    return reasons
