"""Editors' review decisions as labelled moderation examples for the next training run.

An editor who decides a review-queue item (``serving/editorial/review.py``) says pass or
reject and, for a reject, which labels: the latest decision on each post becomes one
training row (a reject teaches its labels, a pass is a negative for every label).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.storage.orm import Post, ReviewDecision


class ReviewTrainingRow(NamedTuple):
    """One labelled moderation example from an editor: what training reads."""

    text: str
    labels: tuple[str, ...]
    decision: str


def review_training_rows(session: Session) -> list[ReviewTrainingRow]:
    """Each decided post's text with the latest editor decision on it, oldest first."""
    latest = select(func.max(ReviewDecision.id)).group_by(ReviewDecision.post_id).scalar_subquery()
    rows = session.execute(
        select(Post.text, ReviewDecision.labels, ReviewDecision.decision)
        .join(Post, Post.id == ReviewDecision.post_id)
        .where(ReviewDecision.id.in_(latest))
        .order_by(ReviewDecision.id)
    ).all()
    return [
        ReviewTrainingRow(text=t, labels=tuple(labels or ()), decision=d) for t, labels, d in rows
    ]
