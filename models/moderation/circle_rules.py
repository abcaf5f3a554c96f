"""Matching a circle's own rule terms in a post: the pure half of the circle rules.

Terms are stored normalised (NFKC, half-width, simplified; ``datasets.normalize``), so
「ＶＸ」 and 「vx」, or 「代購」 and 「代购」, are one rule and match each other's spellings in a
post (letters match case-blind). A hit's span points into the *original* text, so an
editor sees what was written. Storing, validating and caching a circle's terms is
``serving/editorial/rules.py``'s; the moderation policy (``policy.py``) turns hits into a
label.
"""

from __future__ import annotations

from typing import NamedTuple

from quanzi.datasets.normalize import normalize_with_offsets, source_span


class RuleHit(NamedTuple):
    term: str  # the stored (normalised) term
    action: str  # "block" | "review"
    start: int  # span in the original text
    end: int


Rules = tuple[tuple[str, str], ...]  # (normalised term, action)


def fold_case(text: str) -> str:
    """Lower-case when that keeps every offset (it does for all but a few letters)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text


def match_rules(rules: Rules, text: str) -> list[RuleHit]:
    """Every occurrence of every term in ``text``, by start; block before review on a tie."""
    if not rules or not text:
        return []
    normalized, offsets = normalize_with_offsets(text)
    haystack = fold_case(normalized)
    hits: list[RuleHit] = []
    for term, action in rules:
        needle = fold_case(term)
        at = haystack.find(needle)
        while at != -1:
            start, end = source_span(text, offsets, at, at + len(needle))
            hits.append(RuleHit(term, action, start, end))
            at = haystack.find(needle, at + len(needle))
    hits.sort(key=lambda h: (h.start, h.action != "block", h.end, h.term))
    return hits
