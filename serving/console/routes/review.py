"""The review queue: newest or riskiest first, spans and evidence, approve or reject with a
reason (stored as a ``ReviewDecision``: the next ``quanzi train moderation`` reads it)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse

from quanzi.serving.api.deps import SessionDep
from quanzi.serving.api.schemas.review import ReviewDecisionCreate
from quanzi.serving.console import views, web
from quanzi.serving.editorial import review as logic

router = APIRouter(
    prefix=f"{web.PREFIX}/review", route_class=web.ConsoleRoute, include_in_schema=False
)
PAGE = 20
ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("")
def read_review_queue(
    request: Request,
    db: SessionDep,
    _: web.EditorPage,
    order: Literal["newest", "riskiest", "oldest"] = "newest",
    circle_id: str = "",
    offset: int = 0,
) -> Response:
    """Open items in the chosen order, one page of cards with keyboard shortcuts."""
    offset = max(0, min(offset, 100_000))
    items, total = views.review_queue(
        db, order=order, circle_id=circle_id or None, limit=PAGE, offset=offset
    )
    return web.render(
        request,
        "review.html",
        items=items,
        total=total,
        order=order,
        circle_id=circle_id,
        offset=offset,
        page=PAGE,
        circles=views.circle_list(db),
        labels=get_args(logic.ModerationLabel),
    )


@router.post("/{review_id}/decision")
def decide_review_item(
    request: Request,
    review_id: ReviewId,
    db: SessionDep,
    editor: web.EditorAction,
    decision: Annotated[Literal["pass", "reject"], Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
    labels: Annotated[list[str] | None, Form()] = None,
    queue_circle: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Approve (pass) or reject with a reason; the decision is kept as training feedback."""
    body = web.parse(
        ReviewDecisionCreate,
        {
            "decision": decision,
            "reason": reason.strip(),
            "labels": (labels or []) if decision == "reject" else [],
        },
    )
    row, post = logic.decide(
        db,
        review_id,
        decision=body.decision,
        reason=body.reason,
        labels=body.labels,
        editor=editor.actor,
    )
    if not web.is_htmx(request):
        return RedirectResponse(f"{web.PREFIX}/review", status_code=303)
    _, still_open = logic.list_open(db, circle_id=queue_circle or None, limit=1, offset=0)
    return web.render(
        request,
        "_review_done.html",
        review_id=review_id,
        decision=row,
        post=post,
        open_count=still_open,
    )
