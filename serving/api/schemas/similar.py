"""Schemas of ``POST /v1/similar``: neighbours of a stored post or of a text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quanzi.serving.api.schemas.common import (
    JSON_NUMBER,
    NON_BLANK,
    StrictFloat,
    StrictInt,
    optional_not_null,
)
from quanzi.serving.api.schemas.post_ingest import MAX_POST_CHARS, Id

MAX_K = 100
MAX_EXCLUDE = 1000
IndexedStatus = Literal["pending", "pass", "review"]  # rejected and removed posts are not indexed


class SimilarRequest(BaseModel):
    """Exactly one of ``post_id`` and ``text``; every filter is applied inside the search."""

    # Exactly one of the two, said in the schema too (both are non-null when present).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["post_id"]}, {"required": ["text"]}]},
    )

    post_id: Id = Field(  # type: ignore[assignment]
        None, description="A stored post (itself excluded).", json_schema_extra=optional_not_null
    )
    text: str = Field(  # type: ignore[assignment]
        None,
        min_length=1,
        max_length=MAX_POST_CHARS,
        pattern=NON_BLANK,
        json_schema_extra=optional_not_null,
    )
    k: StrictInt = Field(10, ge=1, le=MAX_K)
    circle_id: Id | None = None
    min_quality: Annotated[float, Field(ge=0.0, le=1.0), JSON_NUMBER] | None = Field(
        None, description="Only posts scored at least this quality."
    )
    statuses: list[IndexedStatus] = Field(
        default_factory=lambda: ["pass"],
        min_length=1,
        max_length=3,
        description="Moderation statuses allowed (default: passed posts only).",
    )
    exclude_ids: list[Id] = Field(default_factory=list, max_length=MAX_EXCLUDE)
    diversity: StrictFloat = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description=(
            "0 = pure similarity order; higher trades similarity for variety (MMR, λ = 1 − "
            "diversity)."
        ),
    )

    @model_validator(mode="after")
    def _one_query(self) -> SimilarRequest:
        if (self.post_id is None) == (self.text is None):
            raise ValueError("send exactly one of `post_id` and `text`")
        return self


class SimilarItem(BaseModel):
    post_id: str
    similarity: float = Field(description="Cosine similarity of the embeddings, in [-1, 1].")
    circle_id: str
    author_id: str
    status: str
    quality: float | None
    text: str
    created_at: datetime


class SimilarResponse(BaseModel):
    items: list[SimilarItem]
    encoder_version: str
