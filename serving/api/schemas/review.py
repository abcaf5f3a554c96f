"""Review-queue schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import (
    DEFAULT_PAGE,
    ID_MAX_LENGTH,
    MAX_OFFSET,
    MAX_PAGE,
    NON_BLANK,
)
from quanzi.serving.editorial.review import Decision, ModerationLabel
from quanzi.storage.orm import Post, ReviewDecision, ReviewItem


class ReviewListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circle_id: str | None = Field(None, min_length=1, max_length=ID_MAX_LENGTH)
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


# A reject names at least one label, a pass none: in the schema as well as in the check.
_LABELS_BY_DECISION = {
    "oneOf": [
        {
            "properties": {"decision": {"const": "reject"}, "labels": {"minItems": 1}},
            "required": ["labels"],
        },
        {"properties": {"decision": {"const": "pass"}, "labels": {"maxItems": 0}}},
    ]
}


class ReviewDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_LABELS_BY_DECISION)

    decision: Decision
    reason: str = Field(
        min_length=1,
        max_length=1000,
        pattern=NON_BLANK,
        description="Why; kept with the decision.",
    )
    labels: list[ModerationLabel] = Field(
        default_factory=list,
        max_length=5,
        description="Policy labels the post breaks (a reject needs one, a pass none).",
    )


class ReviewDecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    review_id: int
    post_id: str
    editor: str
    decision: Decision
    labels: list[str]
    reason: str
    created_at: datetime


class ReviewItemPublic(BaseModel):
    id: int
    post_id: str
    circle_id: str
    author_id: str
    text: str
    post_status: str
    reasons: dict[str, Any] = Field(description="Why moderation sent the post here.")
    status: str = Field(description="`open` until an editor decides, then `closed`.")
    created_at: datetime
    decisions: list[ReviewDecisionPublic] = Field(default_factory=list)

    @classmethod
    def from_rows(
        cls, item: ReviewItem, post: Post, decisions: list[ReviewDecision] | None = None
    ) -> ReviewItemPublic:
        return cls(
            id=item.id,
            post_id=post.id,
            circle_id=item.circle_id,
            author_id=post.author_id,
            text=post.text,
            post_status=post.status,
            reasons=item.reasons or {},
            status=item.status,
            created_at=item.created_at,
            decisions=[ReviewDecisionPublic.model_validate(d) for d in decisions or []],
        )


class ReviewList(BaseModel):
    data: list[ReviewItemPublic]
    count: int = Field(description="Open items matching the query, over all pages.")


class ReviewDecisionResult(BaseModel):
    decision: ReviewDecisionPublic
    post_status: str = Field(description="The post's status after the decision.")
