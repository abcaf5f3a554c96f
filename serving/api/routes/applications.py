"""Circle applications: a brand asks to open a circle; the answer is rule by rule, then two
operations reviews (admin keys), and the circle opens when both pass."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from quanzi.serving.api.deps import AdminKey, EditorKey, SessionDep
from quanzi.serving.api.schemas.applications import (
    CircleApplicationCreate,
    CircleApplicationList,
    CircleApplicationListQuery,
    CircleApplicationPublic,
    OpsReviewCreate,
)
from quanzi.serving.editorial import admission as logic

router = APIRouter(prefix="/v1/circles/applications", tags=["applications"])
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND = {404: {"description": "No such application"}}


@router.post("", status_code=201)
def submit_circle_application(
    body: CircleApplicationCreate, session: SessionDep, caller: EditorKey
) -> CircleApplicationPublic:
    """Check a brand against the admission rules and store the application (editor or admin)."""
    row = logic.submit_application(
        session,
        brand=body.brand,
        has_tmall_flagship=body.has_tmall_flagship,
        well_known=body.well_known,
        fans=body.fans(),
        submitted_by=caller.actor,
        circle_id=body.circle_id,
        category=body.category,
    )
    return CircleApplicationPublic.from_row(row)


@router.get("")
def list_circle_applications(
    query: Annotated[CircleApplicationListQuery, Query()], session: SessionDep, _: EditorKey
) -> CircleApplicationList:
    """Applications newest first, optionally of one status (e.g. waiting for reviews)."""
    rows, total = logic.list_applications(
        session, status=query.status, limit=query.limit, offset=query.offset
    )
    return CircleApplicationList(
        data=[CircleApplicationPublic.from_row(r, logic.reviews_of(session, r.id)) for r in rows],
        count=total,
    )


@router.get("/{application_id}", responses=NOT_FOUND)
def read_circle_application(
    application_id: ApplicationId, session: SessionDep, _: EditorKey
) -> CircleApplicationPublic:
    """One stored application with its rule-by-rule result and its reviews."""
    row = logic.get_application(session, application_id)
    return CircleApplicationPublic.from_row(row, logic.reviews_of(session, application_id))


@router.post(
    "/{application_id}/reviews",
    status_code=201,
    responses={**NOT_FOUND, 409: {"description": "Not waiting for reviews, or reviewed twice"}},
)
def review_circle_application(
    application_id: ApplicationId, body: OpsReviewCreate, session: SessionDep, admin: AdminKey
) -> CircleApplicationPublic:
    """Record one operations review (admin); the second pass opens the circle."""
    row = logic.record_review(
        session, application_id, reviewer=admin.actor, decision=body.decision, note=body.note
    )
    return CircleApplicationPublic.from_row(row, logic.reviews_of(session, application_id))
