"""Hot lists (榜单): a circle's posts by decayed engagement, with editors' pins and boosts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from quanzi.serving.api.deps import EditorKey, FeedOrEditorKey, SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.hotlists import (
    HotListItem,
    HotListPublic,
    HotListQuery,
    OverrideCreate,
    OverrideList,
    OverridePublic,
)
from quanzi.serving.editorial import hotlists as logic
from quanzi.serving.editorial.guardrails import post_facts

router = APIRouter(prefix="/v1/hotlists", tags=["hotlists"])
NOT_FOUND = {404: {"description": "No such circle or post"}}


@router.get("/{circle_id}", responses=NOT_FOUND)
def read_hotlist(
    circle_id: ResourceId,
    query: Annotated[HotListQuery, Query()],
    session: SessionDep,
    _: FeedOrEditorKey,
) -> HotListPublic:
    """The circle's hot list: passed posts by decayed engagement, overrides applied."""
    params = logic.HotListParams()
    at = query.at or datetime.now(UTC)
    entries = logic.hot_list(session, circle_id, limit=query.limit, now=at, params=params)
    facts = post_facts(session, [e.post_id for e in entries])
    return HotListPublic(
        circle_id=circle_id,
        at=at,
        decay_hours=params.decay_hours,
        window_hours=params.window_hours,
        items=[
            HotListItem(
                post_id=e.post_id,
                rank=e.rank,
                heat=e.heat,
                base_heat=e.base_heat,
                override=OverridePublic.from_row(e.override) if e.override else None,
                author_id=facts[e.post_id].author_id,
                text=facts[e.post_id].text,
                tier=facts[e.post_id].tier,
                trust_level=facts[e.post_id].level,
            )
            for e in entries
        ],
    )


@router.get("/{circle_id}/overrides", responses=NOT_FOUND)
def list_hotlist_overrides(
    circle_id: ResourceId, session: SessionDep, _: EditorKey
) -> OverrideList:
    """The circle's overrides that are in force now (expired ones are left out)."""
    logic.require_circle(session, circle_id)
    rows = logic.active_overrides(session, circle_id, datetime.now(UTC))
    return OverrideList(circle_id=circle_id, data=[OverridePublic.from_row(r) for r in rows])


@router.post(
    "/{circle_id}/overrides",
    status_code=201,
    responses={**NOT_FOUND, 409: {"description": "`expires_at` already past"}},
)
def set_hotlist_override(
    circle_id: ResourceId, body: OverrideCreate, session: SessionDep, editor: EditorKey
) -> OverridePublic:
    """Pin, boost or remove one post (replacing any override it had); only a passed post
    that is not a flagged copy can be pinned or boosted (409)."""
    row = logic.set_override(
        session,
        circle_id,
        post_id=body.post_id,
        action=body.action,
        value=body.value,
        expires_at=body.expires_at,
        editor=editor.actor,
    )
    return OverridePublic.from_row(row)


@router.delete("/{circle_id}/overrides/{post_id}", status_code=204, responses=NOT_FOUND)
def delete_hotlist_override(
    circle_id: ResourceId, post_id: ResourceId, session: SessionDep, _: EditorKey
) -> Response:
    """Drop a post's override: it goes back to its place by heat."""
    logic.delete_override(session, circle_id, post_id)
    return Response(status_code=204)
