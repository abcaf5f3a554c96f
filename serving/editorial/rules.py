"""Circle rules: a circle's own blocked and review-only terms, stored, validated and cached.

Terms are stored normalised (``datasets.normalize``) and matched in a post by
``models/moderation/circle_rules.py`` (spans into the original text). Only the circle's
own terms are consulted: a circle's rules never touch another circle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from quanzi.datasets.normalize import normalize
from quanzi.models.moderation.circle_rules import RuleHit, Rules, fold_case, match_rules
from quanzi.serving.editorial.errors import Invalid, NotFound
from quanzi.storage.orm import Circle, CircleRule

MAX_TERMS = 200  # per circle and action (blocked, review-only)
MAX_TERM_CHARS = 50  # as written
STORED_TERM_CHARS = 200  # the column's width; NFKC can lengthen a term
RULE_CACHE_SECONDS = 30.0


def normalize_terms(
    blocked: Sequence[str], review: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """A circle's new rule set normalised, and each term left out with why.

    A term is left out when it could never match or would only repeat another: empty once
    normalised (spaces, zero-width characters), a repeat of an earlier term once normalised
    (the first one, blocked before review, is kept), or longer than the stored column once
    NFKC has expanded it. ``Invalid`` only for more terms than a circle may hold.
    """
    for terms in (blocked, review):
        if len(terms) > MAX_TERMS:
            raise Invalid(f"at most {MAX_TERMS} terms per list; got {len(terms)}")
    out: dict[str, tuple[str, str]] = {}  # folded → (normalised term, action)
    dropped: list[str] = []
    for action, terms in (("block", blocked), ("review", review)):
        for term in terms:
            norm = normalize(term)
            if not norm:
                dropped.append(f"{term!r} is empty after normalisation")
            elif len(term) > MAX_TERM_CHARS:
                dropped.append(f"{term[:20]!r}… is longer than {MAX_TERM_CHARS} characters")
            elif len(norm) > STORED_TERM_CHARS:
                dropped.append(f"{term!r} normalises to over {STORED_TERM_CHARS} characters")
            elif fold_case(norm) in out:
                dropped.append(f"{term!r} repeats {out[fold_case(norm)][0]!r} once normalised")
            else:
                out[fold_case(norm)] = (norm, action)
    return list(out.values()), dropped


def get_rules(session: Session, circle_id: str) -> Rules:
    """The circle's (term, action) pairs, sorted by term."""
    rows = session.execute(
        select(CircleRule.term, CircleRule.action)
        .where(CircleRule.circle_id == circle_id)
        .order_by(CircleRule.term)
    ).all()
    return tuple((t, a) for t, a in rows)


def get_rules_of(session: Session, circle_ids: Sequence[str]) -> dict[str, Rules]:
    """``get_rules`` of several circles in one query (a batch of posts of a few circles);
    a circle without rules maps to ``()``."""
    out: dict[str, list[tuple[str, str]]] = {c: [] for c in circle_ids}
    if out:
        rows = session.execute(
            select(CircleRule.circle_id, CircleRule.term, CircleRule.action)
            .where(CircleRule.circle_id.in_(sorted(out)))
            .order_by(CircleRule.circle_id, CircleRule.term)
        ).all()
        for circle_id, term, action in rows:
            out[circle_id].append((term, action))
    return {c: tuple(terms) for c, terms in out.items()}


def replace_rules(
    session: Session, circle_id: str, blocked: Sequence[str], review: Sequence[str]
) -> tuple[Rules, list[str]]:
    """Make the circle's rules exactly these terms (an empty set clears them); returns the
    stored rules and the terms left out, each with why (``normalize_terms``)."""
    if session.get(Circle, circle_id) is None:
        raise NotFound(f"circle {circle_id!r} not found")
    terms, dropped = normalize_terms(blocked, review)
    session.execute(delete(CircleRule).where(CircleRule.circle_id == circle_id))
    session.add_all(CircleRule(circle_id=circle_id, term=t, action=a) for t, a in terms)
    session.flush()
    return get_rules(session, circle_id), dropped


class CircleRuleCache:
    """Per-circle rules read once per ``ttl_s`` (moderation runs on every ingested post)."""

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float = RULE_CACHE_SECONDS):
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Rules]] = {}
        self._lock = threading.Lock()

    def rules(self, circle_id: str) -> Rules:
        now = time.monotonic()
        hit = self._cache.get(circle_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.sessions() as session:
            rules = get_rules(session, circle_id)
        with self._lock:
            self._cache[circle_id] = (now + self.ttl_s, rules)
        return rules

    def invalidate(self, circle_id: str | None = None) -> None:
        """Forget one circle's rules (after a PUT in this process), or all of them."""
        with self._lock:
            if circle_id is None:
                self._cache.clear()
            else:
                self._cache.pop(circle_id, None)


def circle_rule_hits(source: Session | CircleRuleCache, circle_id: str, text: str) -> list[RuleHit]:
    """The circle's own rule terms found in ``text``, with spans in the original text."""
    rules = (
        source.rules(circle_id)
        if isinstance(source, CircleRuleCache)
        else get_rules(source, circle_id)
    )
    return match_rules(rules, text)
