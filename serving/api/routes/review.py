"""The review queue: editors work through posts moderation sent for a human decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from quanzi.serving.api.deps import EditorKey, SessionDep
from quanzi.serving.api.schemas.review import (
    ReviewDecisionCreate,
    ReviewDecisionPublic,
    ReviewDecisionResult,
    ReviewItemPublic,
    ReviewList,
    ReviewListQuery,
)
from quanzi.serving.editorial import review as logic

router = APIRouter(prefix="/v1/review", tags=["review"])
ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND = {404: {"description": "No such review item"}}


@router.get("")
def list_review_items(
    query: Annotated[ReviewListQuery, Query()], session: SessionDep, _: EditorKey
) -> ReviewList:
    """Open items, oldest first, optionally of one circle."""
    rows, total = logic.list_open(
        session, circle_id=query.circle_id, limit=query.limit, offset=query.offset
    )
    return ReviewList(data=[ReviewItemPublic.from_rows(i, p) for i, p in rows], count=total)


@router.get("/{review_id}", responses=NOT_FOUND)
def read_review_item(review_id: ReviewId, session: SessionDep, _: EditorKey) -> ReviewItemPublic:
    """One item, open or closed, with the decisions taken on it."""
    item, post = logic.get_item(session, review_id)
    return ReviewItemPublic.from_rows(item, post, logic.decisions_of(session, review_id))


@router.post(
    "/{review_id}/decision",
    status_code=201,
    responses={**NOT_FOUND, 409: {"description": "Already decided"}},
)
def decide_review_item(
    review_id: ReviewId, body: ReviewDecisionCreate, session: SessionDep, editor: EditorKey
) -> ReviewDecisionResult:
    """Pass or reject with a reason; closes the item and sets the post's status."""
    row, post = logic.decide(
        session,
        review_id,
        decision=body.decision,
        reason=body.reason,
        labels=body.labels,
        editor=editor.actor,
    )
    return ReviewDecisionResult(
        decision=ReviewDecisionPublic.model_validate(row), post_status=post.status
    )
