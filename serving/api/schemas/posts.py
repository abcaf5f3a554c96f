"""Post schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import DEFAULT_PAGE, MAX_PAGE
from quanzi.storage.orm import POST_STATUSES
from quanzi.storage.queries import PostDetail

# Spelled out for the OpenAPI schema; a test checks it matches storage.orm.POST_STATUSES.
PostStatus = Literal["pending", "pass", "review", "reject", "removed"]


class PostScorePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    model_name: str
    model_version: str
    score: float | None
    label: str | None
    payload: dict[str, Any]
    created_at: datetime


class PostPublic(BaseModel):
    """A post with its provenance and the latest score of each model that scored it."""

    id: str
    circle_id: str
    author_id: str
    item_id: str | None
    order_id: str | None
    verified_purchase: bool = Field(
        description="The author's own order of this item, placed before the post."
    )
    text: str
    image_count: int
    status: PostStatus
    created_at: datetime
    updated_at: datetime
    scores: list[PostScorePublic]

    @classmethod
    def from_detail(cls, detail: PostDetail) -> PostPublic:
        p = detail.post
        return cls(
            id=p.id,
            circle_id=p.circle_id,
            author_id=p.author_id,
            item_id=p.item_id,
            order_id=p.order_id,
            verified_purchase=detail.verified_purchase,
            text=p.text,
            image_count=p.image_count,
            status=p.status,  # type: ignore[arg-type]
            created_at=p.created_at,
            updated_at=p.updated_at,
            scores=[PostScorePublic.model_validate(s) for s in detail.scores],
        )


class CirclePostsQuery(BaseModel):
    """Query of ``GET /v1/circles/{id}/posts``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page (an unknown one is 404).",
    )
    status: list[PostStatus] | None = Field(
        None,
        max_length=len(POST_STATUSES),
        description="Only posts with these moderation statuses (repeat the parameter).",
    )


class PostList(BaseModel):
    data: list[PostPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
