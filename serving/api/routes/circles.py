"""Circles: list them, read one, page through its posts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from quanzi.serving.api.deps import READ_ROLES, SessionDep
from quanzi.serving.api.schemas.circles import CircleList, CircleListQuery, CirclePublic
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.posts import CirclePostsQuery, PostList, PostPublic
from quanzi.storage import queries

router = APIRouter(prefix="/v1/circles", tags=["circles"], dependencies=[READ_ROLES])


def _not_found(circle_id: str) -> HTTPException:
    return HTTPException(404, detail=f"circle {circle_id!r} not found")


@router.get("")
def list_circles(query: Annotated[CircleListQuery, Query()], session: SessionDep) -> CircleList:
    """Circles ordered by id, with their post counts; optionally one category."""
    summaries, total = queries.list_circles(
        session, category=query.category, limit=query.limit, offset=query.offset
    )
    return CircleList(data=[CirclePublic.from_summary(s) for s in summaries], count=total)


@router.get("/{circle_id}", responses={404: {"description": "No such circle"}})
def read_circle(circle_id: ResourceId, session: SessionDep) -> CirclePublic:
    """One circle with its post count."""
    summary = queries.get_circle(session, circle_id)
    if summary is None:
        raise _not_found(circle_id)
    return CirclePublic.from_summary(summary)


@router.get(
    "/{circle_id}/posts",
    responses={404: {"description": "No such circle, or a cursor this service did not issue"}},
)
def list_circle_posts(
    circle_id: ResourceId, query: Annotated[CirclePostsQuery, Query()], session: SessionDep
) -> PostList:
    """A circle's posts, newest first, one page at a time (follow `next_cursor`)."""
    try:
        cursor = queries.PostCursor.decode(query.cursor) if query.cursor else None
    except queries.InvalidCursor as exc:
        # The page it names does not exist; the schema's pattern refuses malformed ones (422).
        raise HTTPException(
            404, detail=f"invalid cursor: {exc}; pass a next_cursor returned by this endpoint"
        ) from exc
    if queries.get_circle(session, circle_id) is None:
        raise _not_found(circle_id)
    page = queries.list_circle_posts(
        session, circle_id, limit=query.limit, cursor=cursor, statuses=query.status
    )
    return PostList(
        data=[PostPublic.from_detail(d) for d in page.posts],
        next_cursor=page.next_cursor.encode() if page.next_cursor else None,
    )
