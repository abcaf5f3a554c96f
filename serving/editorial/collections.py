"""Collections (合集): an editor's ordered set of one circle's posts, drafted then published.

Positions are 1-based and always contiguous: every change rewrites them from the list's
order, so a client never sees gaps or ties. Only a non-empty collection whose posts all
passed moderation can be published, and a published one accepts only passed posts.

Guardrails (``guardrails.py``): a post below the banner rules (L2–L3, tier ≥ 2, passed,
not a flagged copy) or a near-duplicate of an item already in is refused (422) unless
the request carries an override reason; the editor and the reason are then stored with
the item, and publishing checks that every such item has one.

When moderation changes its mind about an item after it went in (an editor's decision in
the review queue, or ``quanzi posts rescore`` with a new champion — both through
``status_changes.set_statuses``), the item is not deleted: editorial data stays. The
served view (``served_items``: what the banner page shows of a published collection)
leaves out every item whose post no longer passes, positions closed up, and the editor's
view flags it (``hidden_flag``) until the editor removes it or the post passes again,
when it is served again in its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.models.ranking.selectors.mmr_selector import mmr_order
from quanzi.serving.editorial.errors import Conflict, Invalid, NotFound, id_list
from quanzi.serving.editorial.guardrails import (
    PostFacts,
    VectorsOf,
    near_duplicate_pairs,
    post_facts,
)
from quanzi.serving.editorial.suggestion_neighbours import SimilarPosts
from quanzi.storage.orm import Circle, Collection, CollectionItem, Post

MAX_ITEMS = 100  # posts in one collection: a banner shows a handful, a page a few dozen
SUGGESTION_POOL = 200  # most neighbours MMR chooses among


def get_collection(session: Session, collection_id: int) -> Collection:
    collection = session.get(Collection, collection_id)
    if collection is None:
        raise NotFound(f"collection {collection_id} not found")
    return collection


def list_collections(
    session: Session, *, circle_id: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[Collection], int]:
    """Collections newest first, optionally of one circle and one status, and their total."""
    query = select(Collection)
    if circle_id is not None:
        query = query.where(Collection.circle_id == circle_id)
    if status is not None:
        query = query.where(Collection.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Collection.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def hidden_counts(session: Session, collection_ids: Sequence[int]) -> dict[int, int]:
    """Per collection, its items hidden from the served view (posts that do not pass)."""
    if not collection_ids:
        return {}
    rows = session.execute(
        select(CollectionItem.collection_id, func.count())
        .join(Post, Post.id == CollectionItem.post_id)
        .where(CollectionItem.collection_id.in_(list(collection_ids)), Post.status != "pass")
        .group_by(CollectionItem.collection_id)
    ).all()
    return {int(cid): int(n) for cid, n in rows}


def collection_items(session: Session, collection_id: int) -> list[tuple[CollectionItem, Post]]:
    """The collection's items with their posts, in position order."""
    rows = session.execute(
        select(CollectionItem, Post)
        .join(Post, Post.id == CollectionItem.post_id)
        .where(CollectionItem.collection_id == collection_id)
        .order_by(CollectionItem.position, CollectionItem.post_id)
    ).all()
    return [(item, post) for item, post in rows]


def hidden_flag(post: Post) -> str | None:
    """Why an item is left out of the served collection (None: it is served)."""
    if post.status == "pass":
        return None
    return (
        f"moderation status is {post.status}: hidden from the served collection until it "
        "passes again; remove or replace it"
    )


def served_items(items: Sequence[tuple[CollectionItem, Post]]) -> list[tuple[CollectionItem, Post]]:
    """The items the banner page shows: those whose post passes, in order."""
    return [(item, post) for item, post in items if hidden_flag(post) is None]


def _check_posts(session: Session, collection: Collection, post_ids: Sequence[str]) -> None:
    """Every post exists, belongs to the collection's circle and, once published, passed."""
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(list(post_ids))))}
    unknown = set(post_ids) - set(posts)
    if unknown:
        raise NotFound(f"unknown posts: {id_list(unknown)}")
    foreign = [pid for pid, p in posts.items() if p.circle_id != collection.circle_id]
    if foreign:
        raise Conflict(f"posts not in circle {collection.circle_id!r}: {id_list(foreign)}")
    if collection.status == "published":
        unpassed = [f"{pid} ({p.status})" for pid, p in posts.items() if p.status != "pass"]
        if unpassed:
            raise Conflict(
                "a published collection takes only posts that passed moderation: "
                + id_list(unpassed)
            )


def guardrail_failures(
    session: Session,
    collection: Collection,
    post_ids: Sequence[str],
    vectors_of: VectorsOf | None = None,
) -> dict[str, list[str]]:
    """Why each of ``post_ids`` may not join the collection without an override: the
    banner rules, and near-duplicates of items already in (or of an earlier one of them)."""
    facts = post_facts(session, [*_current_order(session, collection), *post_ids])
    new = [facts[p] for p in post_ids if p in facts]
    existing: list[PostFacts] = [f for pid, f in facts.items() if pid not in set(post_ids)]
    why = {f.post_id: f.banner_failures() for f in new}
    for pid, other, sim in near_duplicate_pairs(new, existing, vectors_of):
        how = "flagged at ingest" if sim is None else f"cosine {sim:.2f}"
        why[pid].append(f"a near-duplicate of {other}, already in ({how})")
    return {pid: w for pid, w in why.items() if w}


def _guard(
    session: Session,
    collection: Collection,
    post_ids: Sequence[str],
    override: tuple[str, str] | None,
    vectors_of: VectorsOf | None,
) -> dict[str, tuple[str, str]]:
    """The overrides to record (post → (editor, reason)); 422 when a post fails the
    guardrails and no override reason was given."""
    failing = guardrail_failures(session, collection, post_ids, vectors_of)
    if not failing:
        return {}
    if override is None or not override[1].strip():
        detail = "; ".join(f"{pid}: {', '.join(w)}" for pid, w in sorted(failing.items()))
        raise Invalid(
            "below the collection guardrails (banner rules: passed, L2–L3, tier ≥ 2, no "
            f"copies or near-duplicates): {detail}. To add them anyway, send "
            "`override_reason` (recorded with your name)"
        )
    return dict.fromkeys(failing, (override[0], override[1].strip()))


def _write_order(
    session: Session,
    collection: Collection,
    order: list[str],
    notes: dict[str, str],
    overrides: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Make the stored items exactly ``order`` (positions 1..n), keeping or setting notes
    (and recording the overrides the new items needed)."""
    overrides = overrides or {}
    existing = {
        i.post_id: i
        for i in session.scalars(
            select(CollectionItem).where(CollectionItem.collection_id == collection.id)
        )
    }
    for post_id, item in existing.items():
        if post_id not in order:
            session.delete(item)
    for position, post_id in enumerate(order, start=1):
        item = existing.get(post_id)
        if item is None:
            by, reason = overrides.get(post_id, (None, None))
            item = CollectionItem(
                collection_id=collection.id,
                post_id=post_id,
                position=position,
                note=notes.get(post_id, ""),
                override_by=by,
                override_reason=reason,
            )
            session.add(item)
        else:
            item.position = position
            if post_id in notes:
                item.note = notes[post_id]
    collection.updated_at = datetime.now(UTC)
    session.flush()


def _current_order(session: Session, collection: Collection) -> list[str]:
    return [item.post_id for item, _ in collection_items(session, collection.id)]


def create_collection(
    session: Session,
    *,
    circle_id: str,
    title: str,
    description: str,
    post_ids: Sequence[str],
    created_by: str,
    override_reason: str | None = None,
    vectors_of: VectorsOf | None = None,
) -> Collection:
    if session.get(Circle, circle_id) is None:
        raise NotFound(f"circle {circle_id!r} not found")
    collection = Collection(
        circle_id=circle_id,
        title=title,
        description=description,
        status="draft",
        created_by=created_by,
    )
    session.add(collection)
    session.flush()
    if post_ids:
        _check_posts(session, collection, post_ids)
        override = None if override_reason is None else (created_by, override_reason)
        overrides = _guard(session, collection, post_ids, override, vectors_of)
        _write_order(session, collection, list(post_ids), {}, overrides)
    return collection


def update_collection(
    session: Session, collection: Collection, *, title: str | None, description: str | None
) -> Collection:
    if title is not None:
        collection.title = title
    if description is not None:
        collection.description = description
    collection.updated_at = datetime.now(UTC)
    session.flush()
    return collection


def delete_collection(session: Session, collection: Collection) -> None:
    session.delete(collection)
    session.flush()


def add_items(
    session: Session,
    collection: Collection,
    post_ids: Sequence[str],
    *,
    position: int | None = None,
    note: str = "",
    editor: str = "",
    override_reason: str | None = None,
    vectors_of: VectorsOf | None = None,
) -> None:
    """Insert ``post_ids`` before ``position`` (1-based; default: at the end); posts that
    fail the guardrails need ``override_reason`` (module docstring)."""
    order = _current_order(session, collection)
    already = set(order) & set(post_ids)
    if already:
        raise Conflict(f"already in collection {collection.id}: {id_list(already)}")
    if len(order) + len(post_ids) > MAX_ITEMS:
        raise Conflict(
            f"a collection holds at most {MAX_ITEMS} posts; it has {len(order)}, "
            f"{len(post_ids)} more is too many"
        )
    if position is not None and position > len(order) + 1:
        raise Conflict(
            f"position {position} is past the end: the collection has "
            f"{len(order)} posts, so use 1..{len(order) + 1}"
        )
    _check_posts(session, collection, post_ids)
    override = None if override_reason is None else (editor, override_reason)
    overrides = _guard(session, collection, post_ids, override, vectors_of)
    at = len(order) if position is None else position - 1
    order[at:at] = list(post_ids)
    _write_order(session, collection, order, dict.fromkeys(post_ids, note), overrides)


def remove_item(session: Session, collection: Collection, post_id: str) -> None:
    order = _current_order(session, collection)
    if post_id not in order:
        raise NotFound(f"post {post_id!r} is not in collection {collection.id}")
    if collection.status == "published" and len(order) == 1:
        raise Conflict(
            f"collection {collection.id} is published: it cannot become empty "
            "(delete the collection instead)"
        )
    order.remove(post_id)
    _write_order(session, collection, order, {})


def reorder_items(session: Session, collection: Collection, post_ids: Sequence[str]) -> None:
    """Put the items in ``post_ids`` order; it must name every item exactly once."""
    order = _current_order(session, collection)
    missing, extra = set(order) - set(post_ids), set(post_ids) - set(order)
    if missing or extra or len(post_ids) != len(order):
        parts = []
        if missing:
            parts.append(f"missing {id_list(missing)}")
        if extra:
            parts.append(f"not in the collection {id_list(extra)}")
        raise Conflict(
            "the new order must list every item of the collection once: "
            + ("; ".join(parts) or "duplicates")
        )
    _write_order(session, collection, list(post_ids), {})


def publish_collection(
    session: Session, collection: Collection, now: datetime | None = None
) -> Collection:
    """Publish; refused when empty or when a post has not passed. Publishing again is a no-op."""
    items = collection_items(session, collection.id)
    if not items:
        raise Conflict(f"collection {collection.id} is empty: add posts before publishing")
    unpassed = [f"{post.id} ({post.status})" for _, post in items if post.status != "pass"]
    if unpassed:
        raise Conflict(
            "only posts that passed moderation can be published; remove or "
            f"wait for: {id_list(unpassed)}"
        )
    facts = post_facts(session, [post.id for _, post in items])
    unruled = [
        f"{item.post_id} ({'; '.join(facts[item.post_id].banner_failures())})"
        for item, _ in items
        if item.override_by is None and facts[item.post_id].banner_failures()
    ]
    if unruled:
        raise Conflict(
            "these items are below the banner rules and were added without an override: "
            + ", ".join(unruled)
            + ". Remove them, or add them again with `override_reason`"
        )
    if collection.status != "published":
        collection.status = "published"
        collection.published_at = now or datetime.now(UTC)
        collection.updated_at = collection.published_at
        session.flush()
    return collection


def suggest_posts(
    session: Session, collection: Collection, similar: SimilarPosts, *, k: int, diversity: float
) -> list[tuple[Post, float]]:
    """Posts to fill the collection: neighbours of its served items (of all, while none
    passes), only posts that pass now, diversified by MMR.

    ``diversity`` is 1 − λ of MMR: 0 keeps the relevance order, higher values trade
    relevance for posts unlike those already picked (no near-duplicates side by side).
    """
    items = collection_items(session, collection.id)
    seeds = [post.id for _, post in served_items(items)] or [post.id for _, post in items]
    pool = min(SUGGESTION_POOL, max(4 * k, 20))
    found = similar(
        session,
        circle_id=collection.circle_id,
        seed_ids=seeds,
        k=pool,
        exclude_ids={post.id for _, post in items},
    )
    # The store's status, not the index's copy (which follows within its sync interval).
    passed = set(
        session.scalars(select(Post.id).where(Post.id.in_(found.post_ids), Post.status == "pass"))
    )
    taken = {post.id for _, post in items}
    keep = [i for i, pid in enumerate(found.post_ids) if pid not in taken and pid in passed]
    if not keep:
        return []
    relevance = found.relevance[keep].astype(np.float64)
    picked = mmr_order(relevance, found.vectors[keep], k, 1.0 - diversity)
    ids = [found.post_ids[keep[i]] for i in picked]
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(ids)))}
    return [
        (posts[found.post_ids[keep[i]]], float(relevance[i]))
        for i in picked
        if found.post_ids[keep[i]] in posts
    ]
