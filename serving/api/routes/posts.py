"""Posts: read one post with its latest scores."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from quanzi.serving.api.deps import READ_ROLES, SessionDep
from quanzi.serving.api.schemas.common import ResourceId
from quanzi.serving.api.schemas.posts import PostPublic
from quanzi.storage import queries

router = APIRouter(prefix="/v1/posts", tags=["posts"], dependencies=[READ_ROLES])


@router.get("/{post_id}", responses={404: {"description": "No such post"}})
def read_post(post_id: ResourceId, session: SessionDep) -> PostPublic:
    """One post, whether it is a verified purchase, and each model's latest score."""
    detail = queries.get_post(session, post_id)
    if detail is None:
        raise HTTPException(404, detail=f"post {post_id!r} not found")
    return PostPublic.from_detail(detail)
