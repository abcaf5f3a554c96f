"""The review queue: posts moderation was unsure about, decided by editors with a reason.

Each decision is kept (who, pass/reject, why, which labels) and closes the item; the
post's status follows the decision. The next ``quanzi train moderation`` reads the decided
texts as labelled examples (``datasets/moderation/editor_decisions.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.serving.editorial.errors import Conflict, Invalid, NotFound
from quanzi.storage.orm import Post, ReviewDecision, ReviewItem

Decision = Literal["pass", "reject"]
# moderation-policy.md's labels; a reject names at least one, a pass none.
ModerationLabel = Literal["contact", "ad", "offensive", "spam", "privacy"]
OPEN, CLOSED = "open", "closed"


def list_open(
    session: Session, *, circle_id: str | None, limit: int, offset: int
) -> tuple[list[tuple[ReviewItem, Post]], int]:
    """Open items oldest first (first in, first reviewed), and how many are open."""
    query = (
        select(ReviewItem, Post)
        .join(Post, Post.id == ReviewItem.post_id)
        .where(ReviewItem.status == OPEN)
    )
    count = select(func.count()).select_from(ReviewItem).where(ReviewItem.status == OPEN)
    if circle_id is not None:
        query = query.where(ReviewItem.circle_id == circle_id)
        count = count.where(ReviewItem.circle_id == circle_id)
    rows = session.execute(
        query.order_by(ReviewItem.created_at, ReviewItem.id).limit(limit).offset(offset)
    ).all()
    return [(item, post) for item, post in rows], int(session.scalar(count) or 0)


def get_item(session: Session, review_id: int) -> tuple[ReviewItem, Post]:
    row = session.execute(
        select(ReviewItem, Post)
        .join(Post, Post.id == ReviewItem.post_id)
        .where(ReviewItem.id == review_id)
    ).first()
    if row is None:
        raise NotFound(f"review item {review_id} not found")
    return row[0], row[1]


def decisions_of(session: Session, review_id: int) -> list[ReviewDecision]:
    return list(
        session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.review_id == review_id)
            .order_by(ReviewDecision.id)
        )
    )


def decide(
    session: Session,
    review_id: int,
    *,
    decision: Decision,
    reason: str,
    labels: Sequence[str],
    editor: str,
) -> tuple[ReviewDecision, Post]:
    """Store an editor's decision, close the item and set the post's status."""
    item, post = get_item(session, review_id)
    if item.status != OPEN:
        last = decisions_of(session, review_id)
        who = f": {last[-1].decision} by {last[-1].editor}" if last else ""
        raise Conflict(f"review item {review_id} is already decided{who}")
    reason = reason.strip()
    if not reason:
        raise Invalid("`reason` must say why (it is kept with the decision)")
    if decision == "reject" and not labels:
        raise Invalid(
            "a reject names at least one label (contact, ad, offensive, spam, "
            "privacy): it becomes training data"
        )
    if decision == "pass" and labels:
        raise Invalid("a pass carries no labels: the post broke no rule")
    row = ReviewDecision(
        review_id=item.id,
        post_id=post.id,
        editor=editor,
        decision=decision,
        labels=sorted(set(labels)),
        reason=reason,
    )
    session.add(row)
    item.status = CLOSED
    if post.status in ("review", "pending"):  # a post removed meanwhile stays removed
        post.status = decision
    session.flush()
    return row, post
