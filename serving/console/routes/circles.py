"""Circles: the list, each circle's own rules (blocked and review-only terms), and brand
admission applications with their rule-by-rule result (准入规则)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.applications import CircleApplicationCreate
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.rules import CircleRulesUpdate
from quanzi.serving.console import web
from quanzi.serving.editorial import admission
from quanzi.serving.editorial import rules as rules_logic
from quanzi.serving.editorial.errors import NotFound
from quanzi.storage import queries
from quanzi.storage.orm import Circle, CircleApplication

router = APIRouter(prefix=web.PREFIX, route_class=web.ConsoleRoute, include_in_schema=False)
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RECENT_APPLICATIONS = 20
FanField = Annotated[str, Form(max_length=20)]  # blank: not declared


def _terms(text: str) -> list[str]:
    """One term per line (blank lines ignored), as an editor types them."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.get("/circles")
def read_circles(request: Request, db: SessionDep, _: web.EditorPage) -> Response:
    """Every circle with its post count and links to its pages."""
    summaries, _total = queries.list_circles(db, category=None, limit=200, offset=0)
    return web.render(request, "circles.html", summaries=summaries)


def _rules_page(
    request: Request,
    db: SessionDep,
    circle: Circle,
    status: int = 200,
    message: str = "",
    blocked: str | None = None,
    review: str | None = None,
) -> Response:
    rules = rules_logic.get_rules(db, circle.id)
    return web.render(
        request,
        "rules.html",
        status=status,
        circle=circle,
        message=message,
        blocked="\n".join(t for t, a in rules if a == "block") if blocked is None else blocked,
        review="\n".join(t for t, a in rules if a == "review") if review is None else review,
        max_terms=rules_logic.MAX_TERMS,
        max_chars=rules_logic.MAX_TERM_CHARS,
    )


@router.get("/circles/{circle_id}/rules")
def read_circle_rules(
    request: Request, circle_id: ResourceId, db: SessionDep, _: web.EditorPage
) -> Response:
    """The circle's blocked and review-only terms, as matched (normalised)."""
    circle = db.get(Circle, circle_id)
    if circle is None:
        raise NotFound(f"circle {circle_id!r} not found")
    return _rules_page(request, db, circle)


@router.post("/circles/{circle_id}/rules")
def replace_circle_rules(
    request: Request,
    circle_id: ResourceId,
    db: SessionDep,
    _: web.EditorAction,
    blocked: Annotated[str, Form(max_length=20_000)] = "",
    review: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Replace the circle's terms (the form holds the whole set, one term per line)."""
    body = web.parse(CircleRulesUpdate, {"blocked": _terms(blocked), "review": _terms(review)})
    _, dropped = rules_logic.replace_rules(db, circle_id, body.blocked, body.review)
    circle = db.get(Circle, circle_id)
    assert circle is not None  # replace_rules checked it
    message = "Saved: new posts are checked against these terms from now on."
    if dropped:
        message += " Left out: " + "; ".join(dropped[:10])
    return _rules_page(request, db, circle, message=message)


@router.get("/applications")
def read_applications(request: Request, db: SessionDep, _: web.EditorPage) -> Response:
    """Submit a brand's application; the recent ones with their results."""
    recent = list(
        db.scalars(
            select(CircleApplication)
            .order_by(CircleApplication.id.desc())
            .limit(RECENT_APPLICATIONS)
        )
    )
    return web.render(
        request, "applications.html", recent=recent, shown=None, channels=admission.FAN_THRESHOLDS
    )


@router.get("/applications/{application_id}")
def read_application(
    request: Request, application_id: ApplicationId, db: SessionDep, _: web.EditorPage
) -> Response:
    """One application, rule by rule."""
    row = admission.get_application(db, application_id)
    return web.render(
        request, "applications.html", recent=[], shown=row, channels=admission.FAN_THRESHOLDS
    )


@router.post("/applications")
def submit_application(
    db: SessionDep,
    editor: web.EditorAction,
    brand: Annotated[str, Form(max_length=200)] = "",
    has_tmall_flagship: Annotated[str, Form(max_length=5)] = "",
    well_known: Annotated[str, Form(max_length=5)] = "",
    weibo_fans: FanField = "",
    wechat_fans: FanField = "",
    community_users: FanField = "",
    weitao_fans: FanField = "",
    tieba_members: FanField = "",
) -> Response:
    """Check a brand against the admission rules and store the application."""
    fans = {
        "weibo_fans": weibo_fans,
        "wechat_fans": wechat_fans,
        "community_users": community_users,
        "weitao_fans": weitao_fans,
        "tieba_members": tieba_members,
    }
    body = web.parse(
        CircleApplicationCreate,
        {
            "brand": brand.strip(),
            "has_tmall_flagship": has_tmall_flagship == "on",
            "well_known": well_known == "on",
            **{k: v.replace(",", "").strip() or None for k, v in fans.items()},
        },
    )
    row = admission.submit_application(
        db,
        brand=body.brand,
        has_tmall_flagship=body.has_tmall_flagship,
        well_known=body.well_known,
        fans=body.fans(),
        submitted_by=editor.actor,
    )
    return RedirectResponse(f"{web.PREFIX}/applications/{row.id}", status_code=303)
