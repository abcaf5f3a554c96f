"""Hot lists (榜单): a circle's list by decayed engagement, with pin, boost and remove; each
change answers with the list recomputed, so the editor sees its effect at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.hotlists import OverrideAction, OverrideCreate
from quanzi.serving.console import views, web
from quanzi.serving.editorial import hotlists as logic
from quanzi.serving.editorial.errors import Invalid

router = APIRouter(
    prefix=f"{web.PREFIX}/hotlists", route_class=web.ConsoleRoute, include_in_schema=False
)
LIST_LENGTH = 30
MAX_HOURS = 24 * 90  # a campaign's length at most; longer ones are permanent overrides


def _as_of(at: str) -> tuple[datetime, date | None]:
    """The instant the list is computed at: now, or the end of a past China day (to look
    back, e.g. at a loaded world whose month is over)."""
    if not at:
        return datetime.now(UTC), None
    try:
        day = date.fromisoformat(at)
    except ValueError as exc:
        raise Invalid(f"`at` must be a day as YYYY-MM-DD, not {at!r}") from exc
    return min(datetime.now(UTC), views.china_day_start(day + timedelta(days=1))), day


def _hotlist(
    request: Request,
    db: Session,
    circle_id: str,
    message: str = "",
    focus: str | None = None,
    at: str = "",
) -> Response:
    """The list fragment for htmx, the page otherwise (a plain post is redirected)."""
    if request.method == "POST" and not web.is_htmx(request):
        return RedirectResponse(
            f"{web.PREFIX}/hotlists?circle_id={circle_id}&at={at}", status_code=303
        )
    now, day = _as_of(at)
    entries = logic.hot_list(db, circle_id, limit=LIST_LENGTH, now=now)
    overrides = logic.active_overrides(db, circle_id, now)
    found = views.cards(db, [e.post_id for e in entries] + [o.post_id for o in overrides])
    listed = {e.post_id for e in entries}
    context = {
        "circle_id": circle_id,
        "entries": [(e, found.get(e.post_id)) for e in entries],
        "hidden": [(o, found.get(o.post_id)) for o in overrides if o.post_id not in listed],
        "message": message,
        "focus": focus,
        "at": day,
        "latest": None if entries else views.latest_engagement(db, circle_id),
    }
    if web.is_htmx(request):
        return web.render(request, "_hotlist.html", **context)
    return web.render(request, "hotlists.html", circles=views.circle_list(db), **context)


@router.get("")
def read_hotlist_page(
    request: Request, db: SessionDep, _: web.EditorPage, circle_id: str = "", at: str = ""
) -> Response:
    """One circle's hot list with its overrides (now, or as of a past day)."""
    if not circle_id:
        circles = views.circle_list(db)
        if not circles:
            return web.render(
                request,
                "hotlists.html",
                circles=[],
                circle_id="",
                entries=[],
                hidden=[],
                message="",
                focus=None,
                at=None,
                latest=None,
            )
        circle_id = circles[0].id
    return _hotlist(request, db, circle_id, at=at)


@router.post("/{circle_id}/overrides")
def set_hotlist_override(
    request: Request,
    circle_id: ResourceId,
    db: SessionDep,
    editor: web.EditorAction,
    post_id: Annotated[str, Form(max_length=64)],
    action: Annotated[OverrideAction, Form()],
    value: Annotated[float, Form(allow_inf_nan=False)] = 0.0,
    hours: Annotated[str, Form(max_length=10)] = "",
    at: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Pin at a position, boost by a factor, or remove; optionally only for some hours."""
    try:
        lasting = float(hours) if hours.strip() else None
    except ValueError:
        lasting = -1.0
    if lasting is not None and not 0 < lasting <= MAX_HOURS:
        raise Invalid(f"`hours` is how long the override lasts: a number in (0, {MAX_HOURS}]")
    expires = datetime.now(UTC) + timedelta(hours=lasting) if lasting else None
    body = web.parse(
        OverrideCreate,
        {"post_id": post_id.strip(), "action": action, "value": value, "expires_at": expires},
    )
    logic.set_override(
        db,
        circle_id,
        post_id=body.post_id,
        action=body.action,
        value=body.value,
        expires_at=body.expires_at,
        editor=editor.actor,
    )
    verb = {"pin": f"Pinned at {value:g}", "boost": f"Boosted ×{value:g}", "remove": "Removed"}[
        body.action
    ]
    return _hotlist(
        request, db, circle_id, f"{verb}: {body.post_id}.", focus=f"row-{body.post_id}", at=at
    )


@router.post("/{circle_id}/overrides/{post_id}/delete")
def delete_hotlist_override(
    request: Request,
    circle_id: ResourceId,
    post_id: ResourceId,
    db: SessionDep,
    _: web.EditorAction,
    at: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Drop a post's override: it goes back to its place by heat."""
    logic.delete_override(db, circle_id, post_id)
    return _hotlist(request, db, circle_id, f"Override cleared: {post_id}.", at=at)
