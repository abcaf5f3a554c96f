"""Moderation and scores of posts: the champions' answers under the moderation policy.

The models answer (``models.scoring.Scorer``); what the answers mean for the post — the
detectors' fallback without a model, the circle's own rules, the decision — is the
moderation policy's (``models/moderation/policy.py``), applied here once per post. Circle
rules are read once per circle per request (``RuleLookup``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from quanzi.models.moderation.circle_rules import Rules
from quanzi.models.moderation.policy import decide
from quanzi.models.scoring import Scorer
from quanzi.serving.editorial.rules import get_rules, get_rules_of
from quanzi.serving.worker_models import ModelSet


def score_records(
    models: ModelSet,
    records: Sequence[dict[str, Any]],
    tasks: Sequence[str] = ("moderation", "quality", "trust"),
    vectors: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Each record's ``{moderation, quality, trust}`` from the champions, as the models
    answer (None where a champion is missing: ``decide`` falls back for moderation).
    ``vectors``: the worker's encoder's vectors of the records' texts, already made for
    the index, so a model reading vectors adds no transformer pass."""
    chosen = {
        t: models.predictors.get(t) if t in tasks else None
        for t in ("moderation", "quality", "trust")
    }
    if any(chosen.values()):
        scorer = Scorer(**chosen, embedder=models.embedder)
        scored = scorer.score([{"id": i, **r} for i, r in enumerate(records)], vectors)
    else:
        scored = [{"moderation": None, "quality": None, "trust": None} for _ in records]
    return scored


def moderate(
    models: ModelSet, records: Sequence[dict[str, Any]], rules_for: Callable[[str], Rules]
) -> list[dict[str, Any]]:
    """``{decision, labels}`` per record: the model (or detectors) plus circle rules."""
    results = score_records(models, records, tasks=("moderation",))
    return [
        moderation_of(scored["moderation"], record, rules_for)
        for record, scored in zip(records, results, strict=True)
    ]


def moderation_of(
    answer: dict[str, Any] | None, record: dict[str, Any], rules_for: Callable[[str], Rules]
) -> dict[str, Any]:
    """The policy's moderation of one record from the model's answer (None: no model) and
    the rules of the record's own circle."""
    circle_id = record.get("circle_id")
    return decide(answer, record["text"], rules_for(circle_id) if circle_id else ())


class RuleLookup:
    """Circle rules read once per circle per request (rules change rarely, posts often);
    ``circle_ids`` known up front are read in one query (a batch's circles)."""

    def __init__(self, session: Session, circle_ids: Iterable[str] = ()) -> None:
        self.session = session
        wanted = sorted({c for c in circle_ids if c})
        self._rules: dict[str, Rules] = get_rules_of(session, wanted) if wanted else {}

    def __call__(self, circle_id: str) -> Rules:
        if circle_id not in self._rules:
            self._rules[circle_id] = get_rules(self.session, circle_id)
        return self._rules[circle_id]
