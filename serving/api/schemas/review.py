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
from quanzi.serving.editorial.review import (
    Decision,
    ModerationLabel,
    QueueOrder,
    labels_of,
    risk_of,
)
from quanzi.storage.orm import Post, ReviewDecision, ReviewItem


class ReviewListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: QueueOrder = Field(
        "oldest",
        description="riskiest (highest label probability or copy cosine), oldest or newest first.",
    )
    label: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="Only items filed under this label (contact, ad, …, near_duplicate).",
    )
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
    labels: list[str] = Field(description="The labels it is filed under (near_duplicate too).")
    risk: float = Field(description="The highest label probability or copy cosine, 0–1.")
    spans: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Where in the text each label points (start, end: character offsets "
        "into `text`), with the text there and the decoded evidence (e.g. an obfuscated "
        "contact read back).",
    )
    status: str = Field(description="`open` until an editor decides, then `closed`.")
    created_at: datetime
    decisions: list[ReviewDecisionPublic] = Field(default_factory=list)

    @classmethod
    def from_rows(
        cls,
        item: ReviewItem,
        post: Post,
        decisions: list[ReviewDecision] | None = None,
        moderation: dict[str, Any] | None = None,
    ) -> ReviewItemPublic:
        reasons = item.reasons or {}
        return cls(
            id=item.id,
            post_id=post.id,
            circle_id=item.circle_id,
            author_id=post.author_id,
            text=post.text,
            post_status=post.status,
            reasons=reasons,
            labels=sorted(labels_of(reasons)),
            risk=round(risk_of(reasons), 4),
            spans=spans_of(post.text, moderation),
            status=item.status,
            created_at=item.created_at,
            decisions=[ReviewDecisionPublic.model_validate(d) for d in decisions or []],
        )


def spans_of(text: str, moderation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each moderation label's spans with the label and the text they cover."""
    out = []
    for entry in (moderation or {}).get("labels") or []:
        for span in entry.get("spans") or []:
            start, end = span.get("start"), span.get("end")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text):
                out.append({**span, "label": entry.get("label"), "text": text[start:end]})
    return sorted(out, key=lambda s: (s["start"], s["end"]))


class ReviewList(BaseModel):
    data: list[ReviewItemPublic]
    count: int = Field(description="Open items matching the query, over all pages.")
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Open items per label (of the circle when one is given), before the "
        "label filter.",
    )


class ReviewDecisionResult(BaseModel):
    decision: ReviewDecisionPublic
    post_status: str = Field(description="The post's status after the decision.")
