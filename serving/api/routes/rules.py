"""Circle rules: a circle's own blocked and review-only terms (``/v1/circles/{id}/rules``)."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.serving.api.deps import RulesKey, SessionDep, require_own_circle
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.rules import CircleRulesPublic, CircleRulesUpdate
from quanzi.serving.editorial import rules as logic
from quanzi.serving.editorial.errors import NotFound
from quanzi.storage.orm import Circle

router = APIRouter(prefix="/v1/circles", tags=["rules"])
NOT_FOUND = {404: {"description": "No such circle"}}


@router.get("/{circle_id}/rules", responses=NOT_FOUND)
def read_circle_rules(
    circle_id: ResourceId, session: SessionDep, caller: RulesKey
) -> CircleRulesPublic:
    """The circle's blocked and review-only terms, normalised as they are matched (editors,
    or the circle's own brand-manager key)."""
    require_own_circle(caller, circle_id)
    if session.get(Circle, circle_id) is None:
        raise NotFound(f"circle {circle_id!r} not found")
    return CircleRulesPublic.from_rules(circle_id, logic.get_rules(session, circle_id))


@router.put("/{circle_id}/rules", responses=NOT_FOUND)
def replace_circle_rules(
    circle_id: ResourceId, body: CircleRulesUpdate, session: SessionDep, caller: RulesKey
) -> CircleRulesPublic:
    """Replace the circle's terms (≤ 200 per list, each ≤ 50 characters; editors, or the
    circle's own brand-manager key); terms that are empty or repeat another once normalised
    are left out and listed in `dropped`."""
    require_own_circle(caller, circle_id)
    rules, dropped = logic.replace_rules(session, circle_id, body.blocked, body.review)
    return CircleRulesPublic.from_rules(circle_id, rules, dropped)
