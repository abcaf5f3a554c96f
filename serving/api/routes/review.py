"""The review queue: editors work through posts moderation sent for a human decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

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
from quanzi.storage.queries import latest_scores

router = APIRouter(prefix="/v1/review", tags=["review"])
ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND = {404: {"description": "No such review item"}}


@router.get("")
def list_review_items(
    query: Annotated[ReviewListQuery, Query()], session: SessionDep, _: EditorKey
) -> ReviewList:
    """Open items riskiest, oldest or newest first, optionally of one circle and one label,
    each with its spans and evidence; with the open items per label."""
    rows, total, counts = logic.queue(
        session,
        order=query.order,
        circle_id=query.circle_id,
        label=query.label,
        limit=query.limit,
        offset=query.offset,
    )
    moderation = _moderation(session, [p.id for _, p in rows])
    return ReviewList(
        data=[ReviewItemPublic.from_rows(i, p, moderation=moderation.get(p.id)) for i, p in rows],
        count=total,
        counts=counts,
    )


def _moderation(session: Session, post_ids: list[str]) -> dict[str, dict]:
    """The newest moderation payload of each post (its labels and spans)."""
    return {
        pid: s.payload or {}
        for pid, scores in latest_scores(session, post_ids).items()
        for s in scores
        if s.model_name == "moderation"
    }


@router.get("/{review_id}", responses=NOT_FOUND)
def read_review_item(review_id: ReviewId, session: SessionDep, _: EditorKey) -> ReviewItemPublic:
    """One item, open or closed, with the decisions taken on it."""
    item, post = logic.get_item(session, review_id)
    return ReviewItemPublic.from_rows(
        item,
        post,
        logic.decisions_of(session, review_id),
        moderation=_moderation(session, [post.id]).get(post.id),
    )


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
