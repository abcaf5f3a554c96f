"""Collection schemas."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from quanzi.serving.api.schemas.common import (
    DEFAULT_PAGE,
    ID_MAX_LENGTH,
    JSON_INTEGER,
    MAX_OFFSET,
    MAX_PAGE,
    optional_not_null,
)
from quanzi.serving.editorial.collections import MAX_ITEMS, hidden_flag, served_items
from quanzi.storage.orm import Collection, CollectionItem, Post

CollectionStatus = Literal["draft", "published"]
PostId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH)]


def _unique(ids: list[str]) -> list[str]:
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ValueError(f"post ids repeat: {', '.join(dupes)}")
    return ids


OverrideReason = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=500,
        description="Why posts below the guardrails (banner rules, near-duplicates of items "
        "already in) go in anyway; stored with the editor's name on each such item.",
    ),
]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circle_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    post_ids: list[PostId] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Initial items, in order.",
        json_schema_extra={"uniqueItems": True},
    )
    override_reason: OverrideReason = None

    _unique_posts = field_validator("post_ids")(_unique)


class CollectionUpdate(BaseModel):
    """At least one of ``title`` and ``description``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    title: str = Field(  # type: ignore[assignment]
        None, min_length=1, max_length=200, json_schema_extra=optional_not_null
    )
    description: str = Field(  # type: ignore[assignment]
        None, max_length=2000, json_schema_extra=optional_not_null
    )

    @model_validator(mode="after")
    def _something(self) -> CollectionUpdate:
        if self.title is None and self.description is None:
            raise ValueError("give `title` and/or `description` to change")
        return self


class CollectionItemsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    post_ids: list[PostId] = Field(
        min_length=1, max_length=MAX_ITEMS, json_schema_extra={"uniqueItems": True}
    )
    position: Annotated[int, Field(ge=1, le=MAX_ITEMS), JSON_INTEGER] | None = Field(
        None, description="Insert before this 1-based position; default end."
    )
    note: str = Field("", max_length=500, description="Editor's note stored with each item.")
    override_reason: OverrideReason = None

    _unique_posts = field_validator("post_ids")(_unique)


class CollectionOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    post_ids: list[PostId] = Field(
        max_length=MAX_ITEMS,
        description="Every item of the collection once, in the new order (409 otherwise).",
        json_schema_extra={"uniqueItems": True},
    )

    _unique_posts = field_validator("post_ids")(_unique)


class CollectionItemPublic(BaseModel):
    post_id: str
    position: int = Field(description="1-based; positions are always 1..n.")
    note: str
    post_status: str
    author_id: str
    text: str
    override_by: str | None = Field(None, description="Who added it despite the guardrails.")
    override_reason: str | None = Field(None, description="Why (null: no override needed).")
    hidden: bool = Field(
        False,
        description="Left out of the served collection: its post no longer passes "
        "moderation (an editor's decision or a rescore changed it after it went in).",
    )
    flag: str | None = Field(None, description="What the editor should do about a hidden item.")


class CollectionPublic(BaseModel):
    id: int
    circle_id: str
    title: str
    description: str
    status: CollectionStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    items: list[CollectionItemPublic] = Field(
        description="Every item in the editor's order, hidden ones included (flagged)."
    )
    hidden_items: int = Field(0, description="Items left out of the served collection.")

    @classmethod
    def from_rows(cls, c: Collection, items: list[tuple[CollectionItem, Post]]) -> CollectionPublic:
        return cls(
            id=c.id,
            circle_id=c.circle_id,
            title=c.title,
            description=c.description,
            status=c.status,
            created_by=c.created_by,  # type: ignore[arg-type]
            created_at=c.created_at,
            updated_at=c.updated_at,
            published_at=c.published_at,
            items=[
                CollectionItemPublic(
                    post_id=i.post_id,
                    position=i.position,
                    note=i.note,
                    post_status=p.status,
                    author_id=p.author_id,
                    text=p.text,
                    override_by=i.override_by,
                    override_reason=i.override_reason,
                    hidden=hidden_flag(p) is not None,
                    flag=hidden_flag(p),
                )
                for i, p in items
            ],
            hidden_items=sum(hidden_flag(p) is not None for _, p in items),
        )


class CollectionServedItem(BaseModel):
    post_id: str
    position: int = Field(description="1-based among the served items: 1..n, no gaps.")
    note: str
    author_id: str
    text: str


class CollectionServed(BaseModel):
    """A published collection as the banner page shows it: only posts that pass now."""

    id: int
    circle_id: str
    title: str
    description: str
    published_at: datetime
    items: list[CollectionServedItem]

    @classmethod
    def from_rows(cls, c: Collection, items: list[tuple[CollectionItem, Post]]) -> CollectionServed:
        assert c.published_at is not None
        return cls(
            id=c.id,
            circle_id=c.circle_id,
            title=c.title,
            description=c.description,
            published_at=c.published_at,
            items=[
                CollectionServedItem(
                    post_id=i.post_id, position=n, note=i.note, author_id=p.author_id, text=p.text
                )
                for n, (i, p) in enumerate(served_items(items), start=1)
            ],
        )


class CollectionSummary(BaseModel):
    id: int
    circle_id: str
    title: str
    status: CollectionStatus
    created_by: str
    created_at: datetime
    published_at: datetime | None
    hidden_items: int = Field(
        0, description="Items left out of the served collection (posts that no longer pass)."
    )


class CollectionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circle_id: str | None = Field(None, min_length=1, max_length=ID_MAX_LENGTH)
    status: CollectionStatus | None = None
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CollectionList(BaseModel):
    data: list[CollectionSummary]
    count: int = Field(description="Collections matching the query, over all pages.")


class SuggestionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=50, description="Suggestions to return.")
    diversity: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="MMR trade-off: 0 = pure relevance, 1 = pure novelty against picked posts.",
    )


class Suggestion(BaseModel):
    post_id: str
    relevance: float
    author_id: str
    text: str
    tier: int | None = Field(description="Quality tier 0–3 (null: not scored).")
    trust_level: str | None = Field(description="Base trust level, L2–L6 (null: not scored).")
    below_banner_rules: list[str] = Field(
        default_factory=list,
        description="Why it may not go in without an override (empty: it may).",
    )


class SuggestionList(BaseModel):
    collection_id: int
    data: list[Suggestion]
