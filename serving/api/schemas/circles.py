"""Circle schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import DEFAULT_PAGE, MAX_OFFSET, MAX_PAGE
from quanzi.storage.queries import CircleSummary


class CirclePublic(BaseModel):
    """A circle as the feed service and editors see it."""

    id: str
    name: str
    kind: str = Field(description="brand, interest (by its topics), industry or sku_qa.")
    parent_id: str | None = Field(
        None, description="A brand circle's industry circle; a SKU Q&A circle's brand circle."
    )
    item_id: str | None = Field(None, description="A SKU Q&A circle's product (SKU).")
    category: str
    brand: str
    description: str
    created_at: datetime
    post_count: int = Field(description="Posts stored for this circle, any moderation status.")

    @classmethod
    def from_summary(cls, summary: CircleSummary) -> CirclePublic:
        c = summary.circle
        return cls(
            id=c.id,
            name=c.name,
            kind=c.kind,
            parent_id=c.parent_id,
            item_id=c.item_id,
            category=c.category,
            brand=c.brand,
            description=c.description,
            created_at=c.created_at,
            post_count=summary.post_count,
        )


class CircleListQuery(BaseModel):
    """Query of ``GET /v1/circles``; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(None, min_length=1, max_length=64)
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CircleList(BaseModel):
    data: list[CirclePublic]
    count: int = Field(description="Circles matching the query, over all pages.")
