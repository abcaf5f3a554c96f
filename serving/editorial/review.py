"""The review queue: posts moderation was unsure about, decided by editors with a reason.

Each decision is kept (who, pass/reject, why, which labels) and closes the item; the
post's status follows the decision. The next ``quanzi train moderation`` reads the decided
texts as labelled examples (``datasets/moderation/editor_decisions.py``).

The queue (``queue``): open items riskiest first (the highest label probability, or the
cosine of the post it copies), oldest first or newest first; filtered by circle and by
label (``near_duplicate`` for copies); with the count of open items per label, so editors
see where the work is. Risk lives in the items' JSON reasons, so the open items of the
circle are ordered in memory (their ids, reasons and times only; the page's posts are
then read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.serving.editorial.errors import Conflict, Invalid, NotFound
from quanzi.serving.editorial.status_changes import set_statuses
from quanzi.storage.orm import Post, ReviewDecision, ReviewItem

Decision = Literal["pass", "reject"]
# moderation-policy.md's labels; a reject names at least one, a pass none.
ModerationLabel = Literal["contact", "ad", "offensive", "spam", "privacy"]
OPEN, CLOSED = "open", "closed"
QueueOrder = Literal["riskiest", "oldest", "newest"]
NEAR_DUPLICATE = "near_duplicate"  # the label a copy is filed under in the queue


def risk_of(reasons: dict[str, Any]) -> float:
    """How sure moderation was that something is wrong: the highest label probability, or
    the cosine of the post it copies."""
    probs = [float(e.get("prob") or 0.0) for e in reasons.get("labels") or []]
    probs.append(float(reasons.get("near_duplicate_cosine") or 0.0))
    return max(probs)


def labels_of(reasons: dict[str, Any]) -> set[str]:
    """The labels an item is filed under (``near_duplicate`` for a copy)."""
    out = {str(e.get("label")) for e in reasons.get("labels") or [] if e.get("label")}
    if reasons.get("near_duplicate_of"):
        out.add(NEAR_DUPLICATE)
    return out


def queue(
    session: Session,
    *,
    order: QueueOrder = "riskiest",
    circle_id: str | None = None,
    label: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[tuple[ReviewItem, Post]], int, dict[str, int]]:
    """One page of open items in ``order``, how many match, and open items per label (of the
    circle, before the label filter)."""
    query = select(ReviewItem.id, ReviewItem.reasons, ReviewItem.created_at).where(
        ReviewItem.status == OPEN
    )
    if circle_id is not None:
        query = query.where(ReviewItem.circle_id == circle_id)
    rows = [(i, r or {}, t) for i, r, t in session.execute(query)]
    counts = Counter(lab for _, r, _ in rows for lab in labels_of(r))
    if label is not None:
        rows = [row for row in rows if label in labels_of(row[1])]
    if order == "riskiest":
        rows.sort(key=lambda r: (-risk_of(r[1]), r[2], r[0]))
    else:
        rows.sort(key=lambda r: (r[2], r[0]), reverse=order == "newest")
    page = [i for i, _, _ in rows[offset : offset + limit]]
    found = {
        item.id: (item, post)
        for item, post in session.execute(
            select(ReviewItem, Post)
            .join(Post, Post.id == ReviewItem.post_id)
            .where(ReviewItem.id.in_(page))
        ).all()
    }
    return [found[i] for i in page if i in found], len(rows), dict(sorted(counts.items()))


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
    """Store an editor's decision, close the item and set the post's status
    (``status_changes.set_statuses``, as a rescore does)."""
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
    session.flush()
    if post.status in ("review", "pending"):  # a post removed meanwhile stays removed
        # The path every status change takes: workers' feeds and indexes re-read the post
        # within their refresh interval; hot lists, banner picks, collections follow.
        set_statuses(session, {post.id: decision})
    return row, post
