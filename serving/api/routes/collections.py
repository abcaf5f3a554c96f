"""Collections (合集): editors build, order, fill from similar posts and publish them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from quanzi.serving.api.deps import (
    EditorKey,
    FeedOrEditorKey,
    ModelsDep,
    SessionDep,
    SimilarDep,
)
from quanzi.serving.api.schemas.collections import (
    CollectionCreate,
    CollectionItemsAdd,
    CollectionList,
    CollectionListQuery,
    CollectionOrder,
    CollectionPublic,
    CollectionServed,
    CollectionSummary,
    CollectionUpdate,
    Suggestion,
    SuggestionList,
    SuggestionQuery,
)
from quanzi.serving.api.schemas.common import ID_MAX_LENGTH
from quanzi.serving.editorial import collections as logic
from quanzi.serving.editorial.errors import Conflict
from quanzi.serving.editorial.guardrails import VectorsOf, post_facts
from quanzi.serving.index_search import post_vectors
from quanzi.serving.worker_models import ModelRegistry
from quanzi.storage.orm import Collection

router = APIRouter(prefix="/v1/collections", tags=["collections"])

CollectionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PostIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
NOT_FOUND = {404: {"description": "No such collection (or post)"}}
CONFLICT = {
    409: {
        "description": "The collection's state refuses it: posts of another circle, over "
        "100 items, a position past the end, an order that is not every item once, a "
        "published collection left empty or given unpassed posts"
    }
}


def _public(session: Session, collection: Collection) -> CollectionPublic:
    return CollectionPublic.from_rows(collection, logic.collection_items(session, collection.id))


def _vectors_of(session: Session, registry: ModelRegistry) -> VectorsOf | None:
    """The encoder's vectors for the near-duplicate guardrail, when the models are in."""
    models = registry.peek()
    if models is None or models.index is None or models.embedder is None:
        return None
    return lambda ids: post_vectors(session, models, ids)


@router.post("", status_code=201, responses={**NOT_FOUND, **CONFLICT})
def create_collection(
    body: CollectionCreate, session: SessionDep, registry: ModelsDep, editor: EditorKey
) -> CollectionPublic:
    """Create a draft collection in a circle, optionally with its first posts (guardrails
    as for added items)."""
    collection = logic.create_collection(
        session,
        circle_id=body.circle_id,
        title=body.title,
        description=body.description,
        post_ids=body.post_ids,
        created_by=editor.actor,
        override_reason=body.override_reason,
        vectors_of=_vectors_of(session, registry),
    )
    return _public(session, collection)


@router.get("")
def list_collections(
    query: Annotated[CollectionListQuery, Query()], session: SessionDep, _: EditorKey
) -> CollectionList:
    """Collections newest first, optionally of one circle and one status."""
    rows, total = logic.list_collections(
        session,
        circle_id=query.circle_id,
        status=query.status,
        limit=query.limit,
        offset=query.offset,
    )
    hidden = logic.hidden_counts(session, [c.id for c in rows])
    return CollectionList(
        data=[
            CollectionSummary.model_validate(c, from_attributes=True).model_copy(
                update={"hidden_items": hidden.get(c.id, 0)}
            )
            for c in rows
        ],
        count=total,
    )


@router.get("/{collection_id}", responses=NOT_FOUND)
def read_collection(
    collection_id: CollectionId, session: SessionDep, _: EditorKey
) -> CollectionPublic:
    """One collection with its items in order."""
    return _public(session, logic.get_collection(session, collection_id))


@router.get(
    "/{collection_id}/served",
    responses={**NOT_FOUND, 409: {"description": "A draft: only a published one is served"}},
)
def read_served_collection(
    collection_id: CollectionId, session: SessionDep, _: FeedOrEditorKey
) -> CollectionServed:
    """A published collection as the banner page shows it: its items whose posts pass
    moderation now, positions 1..n (an item moderation later rejected is left out, and
    flagged in the editor's view, until it passes again)."""
    collection = logic.get_collection(session, collection_id)
    if collection.status != "published":
        raise Conflict(f"collection {collection_id} is a draft: only a published one is served")
    return CollectionServed.from_rows(collection, logic.collection_items(session, collection.id))


@router.patch("/{collection_id}", responses=NOT_FOUND)
def update_collection(
    collection_id: CollectionId, body: CollectionUpdate, session: SessionDep, _: EditorKey
) -> CollectionPublic:
    """Change a collection's title or description."""
    collection = logic.get_collection(session, collection_id)
    logic.update_collection(session, collection, title=body.title, description=body.description)
    return _public(session, collection)


@router.delete("/{collection_id}", status_code=204, responses=NOT_FOUND)
def delete_collection(collection_id: CollectionId, session: SessionDep, _: EditorKey) -> Response:
    """Delete a collection and its items (the posts stay)."""
    logic.delete_collection(session, logic.get_collection(session, collection_id))
    return Response(status_code=204)


@router.post(
    "/{collection_id}/items",
    responses={
        **NOT_FOUND,
        **CONFLICT,
        409: {"description": "Already in the collection, or not passed while published"},
        422: {"description": "Below the banner rules or a near-duplicate, and no override"},
    },
)
def add_collection_items(
    collection_id: CollectionId,
    body: CollectionItemsAdd,
    session: SessionDep,
    registry: ModelsDep,
    editor: EditorKey,
) -> CollectionPublic:
    """Insert posts at a position (default: the end); positions stay 1..n. A post below the
    banner rules or nearly copying an item already in needs `override_reason`."""
    collection = logic.get_collection(session, collection_id)
    logic.add_items(
        session,
        collection,
        body.post_ids,
        position=body.position,
        note=body.note,
        editor=editor.actor,
        override_reason=body.override_reason,
        vectors_of=_vectors_of(session, registry),
    )
    return _public(session, collection)


@router.delete("/{collection_id}/items/{post_id}", responses={**NOT_FOUND, **CONFLICT})
def remove_collection_item(
    collection_id: CollectionId, post_id: PostIdPath, session: SessionDep, _: EditorKey
) -> CollectionPublic:
    """Take a post out of a collection; the others close the gap."""
    collection = logic.get_collection(session, collection_id)
    logic.remove_item(session, collection, post_id)
    return _public(session, collection)


@router.put("/{collection_id}/items", responses={**NOT_FOUND, **CONFLICT})
def reorder_collection_items(
    collection_id: CollectionId, body: CollectionOrder, session: SessionDep, _: EditorKey
) -> CollectionPublic:
    """Reorder: send every item's post id once, in the new order."""
    collection = logic.get_collection(session, collection_id)
    logic.reorder_items(session, collection, body.post_ids)
    return _public(session, collection)


@router.get("/{collection_id}/suggestions", responses=NOT_FOUND)
def suggest_collection_posts(
    collection_id: CollectionId,
    query: Annotated[SuggestionQuery, Query()],
    session: SessionDep,
    similar: SimilarDep,
    _: EditorKey,
) -> SuggestionList:
    """Posts of the circle similar to the collection's items, diversified by MMR, each with
    its text, author, quality tier, trust level and what keeps it off a banner, if
    anything (such a post needs an override to go in)."""
    collection = logic.get_collection(session, collection_id)
    found = logic.suggest_posts(session, collection, similar, k=query.k, diversity=query.diversity)
    facts = post_facts(session, [p.id for p, _ in found])
    return SuggestionList(
        collection_id=collection.id,
        data=[
            Suggestion(
                post_id=p.id,
                relevance=r,
                author_id=p.author_id,
                text=p.text,
                tier=facts[p.id].tier,
                trust_level=facts[p.id].level,
                below_banner_rules=facts[p.id].banner_failures(),
            )
            for p, r in found
        ],
    )


@router.post(
    "/{collection_id}/publish",
    responses={**NOT_FOUND, 409: {"description": "Empty, or holding posts that have not passed"}},
)
def publish_collection(
    collection_id: CollectionId, session: SessionDep, _: EditorKey
) -> CollectionPublic:
    """Publish a non-empty collection of passed posts (publishing again changes nothing)."""
    collection = logic.publish_collection(session, logic.get_collection(session, collection_id))
    return _public(session, collection)
