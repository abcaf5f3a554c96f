"""Circle applications: a brand asks to open a circle; the answer is rule by rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from quanzi.serving.api.deps import EditorKey, SessionDep
from quanzi.serving.api.schemas.applications import (
    CircleApplicationCreate,
    CircleApplicationPublic,
)
from quanzi.serving.editorial import admission as logic

router = APIRouter(prefix="/v1/circles/applications", tags=["applications"])
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


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
    )
    return CircleApplicationPublic.from_row(row)


@router.get("/{application_id}", responses={404: {"description": "No such application"}})
def read_circle_application(
    application_id: ApplicationId, session: SessionDep, _: EditorKey
) -> CircleApplicationPublic:
    """One stored application with its rule-by-rule result."""
    return CircleApplicationPublic.from_row(logic.get_application(session, application_id))
