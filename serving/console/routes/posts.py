"""A post's page: its text with the spans moderation found, every score with its reasons,
and its nearest neighbours in the index with near-duplicates marked."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from quanzi.serving.api.deps import ModelsDep, SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.console import views, web
from quanzi.serving.editorial.errors import EditorialError, NotFound
from quanzi.serving.editorial.rules import circle_rule_hits
from quanzi.storage import queries
from quanzi.storage.orm import Circle, Collection

router = APIRouter(
    prefix=f"{web.PREFIX}/posts", route_class=web.ConsoleRoute, include_in_schema=False
)


@router.get("/{post_id}")
def read_post_page(
    request: Request, post_id: ResourceId, db: SessionDep, _: web.EditorPage
) -> Response:
    """The post, its scores and reasons, highlighted spans; similar posts load after."""
    detail = queries.get_post(db, post_id)
    if detail is None:
        raise NotFound(f"post {post_id!r} not found")
    card = views.detail_card(db, detail)
    spans = views.spans_of(card.labels)
    # The circle's current terms too: rules added after ingest still show where they hit.
    spans += [
        (h.start, h.end, "circle_rule", f"{h.action}: {h.term}")
        for h in circle_rule_hits(db, card.post.circle_id, card.post.text)
        if not any(s[:3] == (h.start, h.end, "circle_rule") for s in spans)
    ]
    drafts = list(
        db.scalars(
            select(Collection)
            .where(Collection.circle_id == card.post.circle_id)
            .order_by(Collection.id.desc())
            .limit(20)
        )
    )
    return web.render(
        request,
        "post.html",
        card=card,
        scores=detail.scores,
        verified_purchase=detail.verified_purchase,
        circle=db.get(Circle, card.post.circle_id),
        segments=views.segments(card.post.text, spans),
        collections=drafts,
    )


@router.get("/{post_id}/similar")
def read_similar_posts(
    request: Request,
    post_id: ResourceId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorPage,
    scope: str = "circle",
) -> Response:
    """The post's nearest neighbours (FAISS), near-duplicates marked."""
    card = views.cards(db, [post_id]).get(post_id)
    if card is None:
        raise NotFound(f"post {post_id!r} not found")
    models = web.ready_models(registry)
    hits, error = None, None
    if models is not None:
        try:
            hits = views.similar_posts(db, models, card, same_circle=scope != "all")
        except EditorialError as exc:  # no encoder: the post page itself still works
            error = exc
    template = "_similar.html" if web.is_htmx(request) else "similar.html"
    return web.render(
        request,
        template,
        card=card,
        hits=hits,
        scope=scope,
        error=error,
        models_loading=models is None,
    )
