"""Building a collection (合集): create around a seed post, add, remove, reorder (drag or
keyboard), "suggest more" from the index with MMR, live warnings, publish.

Every change answers with the item list and its warnings re-rendered (htmx swaps them in
place), or, without JavaScript, redirects back to the builder.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from quanzi.serving.api.deps import ModelsDep, SessionDep, SimilarDep
from quanzi.serving.api.schemas.collections import (
    CollectionCreate,
    CollectionItemsAdd,
    CollectionListQuery,
    CollectionOrder,
    CollectionUpdate,
    SuggestionQuery,
)
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.console import views, web
from quanzi.serving.editorial import collections as logic
from quanzi.serving.worker_models import ModelRegistry
from quanzi.storage.orm import Collection

router = APIRouter(
    prefix=f"{web.PREFIX}/collections", route_class=web.ConsoleRoute, include_in_schema=False
)
CollectionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TextField = Annotated[str, Form(max_length=2000)]


def _builder(
    request: Request,
    db: Session,
    registry: ModelRegistry,
    collection: Collection,
    *,
    fragment: str | None = None,
    focus: str | None = None,
    message: str = "",
) -> Response:
    """The builder page, or one of its fragments for htmx; a plain form post is redirected
    back to the page (so a reload never re-posts)."""
    if request.method == "POST" and not web.is_htmx(request):
        return RedirectResponse(f"{web.PREFIX}/collections/{collection.id}", status_code=303)
    rows = logic.collection_items(db, collection.id)
    found = views.cards(db, [post.id for _, post in rows])
    items = [found[post.id] for _, post in rows if post.id in found]
    warnings = views.collection_warnings(db, registry.peek(), items)
    template = fragment if fragment and web.is_htmx(request) else "collection.html"
    return web.render(
        request,
        template,
        collection=collection,
        items=items,
        warnings=warnings,
        focus=focus,
        message=message,
    )


@router.get("")
def read_collections(
    request: Request,
    db: SessionDep,
    _: web.EditorPage,
    circle_id: str = "",
    status: str = "",
    seed: str = "",
) -> Response:
    """Collections newest first, and the form that starts one (optionally around a seed)."""
    query = web.parse(
        CollectionListQuery,
        {"circle_id": circle_id or None, "status": status or None, "limit": 100},
    )
    rows, total = logic.list_collections(
        db, circle_id=query.circle_id, status=query.status, limit=query.limit, offset=query.offset
    )
    seed_card = views.cards(db, [seed]).get(seed) if seed else None
    return web.render(
        request,
        "collections.html",
        collections=rows,
        hidden=logic.hidden_counts(db, [c.id for c in rows]),
        total=total,
        circles=views.circle_list(db),
        query=query,
        seed=seed_card,
    )


@router.post("")
def create_collection(
    request: Request,
    db: SessionDep,
    editor: web.EditorAction,
    circle_id: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    seed_post_id: Annotated[str, Form(max_length=64)] = "",
    description: TextField = "",
) -> Response:
    """Create a draft around a seed post (its circle) and open the builder."""
    body = web.parse(
        CollectionCreate,
        {
            "circle_id": circle_id,
            "title": title.strip(),
            "description": description,
            "post_ids": [seed_post_id.strip()] if seed_post_id.strip() else [],
        },
    )
    collection = logic.create_collection(
        db,
        circle_id=body.circle_id,
        title=body.title,
        description=body.description,
        post_ids=body.post_ids,
        created_by=editor.actor,
    )
    return RedirectResponse(f"{web.PREFIX}/collections/{collection.id}", status_code=303)


@router.get("/{collection_id}")
def read_collection_builder(
    request: Request,
    collection_id: CollectionId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorPage,
) -> Response:
    """The builder: items in order, warnings, add, suggest, publish."""
    return _builder(request, db, registry, logic.get_collection(db, collection_id))


@router.post("/{collection_id}")
def update_collection(
    request: Request,
    collection_id: CollectionId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorAction,
    title: Annotated[str, Form(max_length=200)],
    description: TextField = "",
) -> Response:
    """Rename the collection or change its description."""
    body = web.parse(CollectionUpdate, {"title": title.strip(), "description": description})
    collection = logic.get_collection(db, collection_id)
    logic.update_collection(db, collection, title=body.title, description=body.description)
    return _builder(
        request, db, registry, collection, fragment="_collection_head.html", message="Saved."
    )


@router.post("/{collection_id}/items")
def add_collection_items(
    request: Request,
    collection_id: CollectionId,
    db: SessionDep,
    registry: ModelsDep,
    editor: web.EditorAction,
    post_id: Annotated[str, Form(max_length=64)],
    position: Annotated[str, Form(max_length=4)] = "",
    override_reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Add a post (at a position, default the end); one below the banner rules or nearly
    copying an item needs an override reason (recorded with the editor)."""
    body = web.parse(
        CollectionItemsAdd,
        {
            "post_ids": [post_id.strip()],
            "position": position.strip() or None,
            "override_reason": override_reason.strip() or None,
        },
    )
    collection = logic.get_collection(db, collection_id)
    logic.add_items(
        db,
        collection,
        body.post_ids,
        position=body.position,
        editor=editor.actor,
        override_reason=body.override_reason,
    )
    return _builder(
        request,
        db,
        registry,
        collection,
        fragment="_collection_items.html",
        message=f"Added {body.post_ids[0]}.",
    )


@router.post("/{collection_id}/items/{post_id}/remove")
def remove_collection_item(
    request: Request,
    collection_id: CollectionId,
    post_id: ResourceId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorAction,
) -> Response:
    """Take a post out; the others close the gap."""
    collection = logic.get_collection(db, collection_id)
    logic.remove_item(db, collection, post_id)
    return _builder(
        request,
        db,
        registry,
        collection,
        fragment="_collection_items.html",
        message=f"Removed {post_id}.",
    )


@router.post("/{collection_id}/items/{post_id}/move")
def move_collection_item(
    request: Request,
    collection_id: CollectionId,
    post_id: ResourceId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorAction,
    to: Annotated[Literal["up", "down", "top", "bottom"], Form()],
) -> Response:
    """Move one post a step (the keyboard's way to reorder); focus stays on it."""
    collection = logic.get_collection(db, collection_id)
    order = [post.id for _, post in logic.collection_items(db, collection.id)]
    if post_id in order:
        at = order.index(post_id)
        new_at = {"up": at - 1, "down": at + 1, "top": 0, "bottom": len(order) - 1}[to]
        order.insert(max(0, min(new_at, len(order) - 1)), order.pop(at))
        logic.reorder_items(db, collection, order)
    return _builder(
        request,
        db,
        registry,
        collection,
        fragment="_collection_items.html",
        focus=f"move-{to}-{post_id}",
    )


@router.post("/{collection_id}/order")
def reorder_collection_items(
    request: Request,
    collection_id: CollectionId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorAction,
    order: Annotated[str, Form(max_length=8000)],
) -> Response:
    """Put every item in the order given (what a drag and drop sends)."""
    body = web.parse(CollectionOrder, {"post_ids": [p for p in order.split(",") if p]})
    collection = logic.get_collection(db, collection_id)
    logic.reorder_items(db, collection, body.post_ids)
    return _builder(
        request, db, registry, collection, fragment="_collection_items.html", message="Order saved."
    )


@router.get("/{collection_id}/suggestions")
def read_collection_suggestions(
    request: Request,
    collection_id: CollectionId,
    query: Annotated[SuggestionQuery, Query()],
    db: SessionDep,
    similar: SimilarDep,
    _: web.EditorPage,
) -> Response:
    """Posts to fill the collection: neighbours of its items, diversified by MMR."""
    collection = logic.get_collection(db, collection_id)
    found = logic.suggest_posts(db, collection, similar, k=query.k, diversity=query.diversity)
    by_id = views.cards(db, [p.id for p, _ in found])
    suggestions = [(by_id[p.id], relevance) for p, relevance in found if p.id in by_id]
    return web.render(
        request, "_suggestions.html", collection=collection, suggestions=suggestions, query=query
    )


@router.post("/{collection_id}/publish")
def publish_collection(
    request: Request,
    collection_id: CollectionId,
    db: SessionDep,
    registry: ModelsDep,
    _: web.EditorAction,
) -> Response:
    """Publish (all posts passed, not empty); then it is readable through /v1/collections."""
    collection = logic.publish_collection(db, logic.get_collection(db, collection_id))
    return _builder(request, db, registry, collection)


@router.post("/{collection_id}/delete")
def delete_collection(collection_id: CollectionId, db: SessionDep, _: web.EditorAction) -> Response:
    """Delete a collection (its posts stay)."""
    logic.delete_collection(db, logic.get_collection(db, collection_id))
    return RedirectResponse(f"{web.PREFIX}/collections", status_code=303)
