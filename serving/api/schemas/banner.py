"""Schemas of ``GET /v1/banner/picks``: banner candidates grouped into suggested collections."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.post_ingest import Id

MAX_PICKS = 100


class BannerQuery(BaseModel):
    """Query of ``GET /v1/banner/picks``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    circle_id: Id
    limit: int = Field(20, ge=1, le=MAX_PICKS, description="Posts picked in all.")
    per_author: int = Field(2, ge=1, le=MAX_PICKS, description="At most this many per author.")
    min_tier: int = Field(2, ge=2, le=3, description="Lowest quality tier (2 good, 3 excellent).")
    groups: int | None = Field(
        None, ge=1, le=20, description="Suggested collections; default about one per 5."
    )


class BannerPickPublic(BaseModel):
    post_id: str
    author_id: str
    item_id: str | None
    text: str
    quality: float
    tier: int
    trust_level: str = Field(description="L2 or L3: the only levels a banner may show.")
    trust_prob: float | None
    created_at: datetime


class BannerGroupPublic(BaseModel):
    title: str = Field(description="Suggested collection title (its distinctive terms).")
    terms: list[str]
    posts: list[BannerPickPublic]


class BannerPicks(BaseModel):
    circle_id: str
    groups: list[BannerGroupPublic] = Field(description="Best group first; best post first.")
    count: int = Field(description="Posts picked over all groups.")
    eligible: int = Field(description="Posts meeting every condition before de-duplication.")
    dropped: dict[str, int] = Field(
        description="Eligible posts left out, by reason: near_duplicate, author_cap, no_embedding."
    )
