"""Schemas of ``POST /v1/posts`` (one post or a batch) and of moderation results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
)

from quanzi.serving.api.schemas.common import ID_MAX_LENGTH, NON_BLANK, StrictInt
from quanzi.serving.api.schemas.posts import PostStatus
from quanzi.storage.orm import TOPIC_NAME_MAX

MAX_POSTS = 500  # per batch
MAX_POST_CHARS = 20_000  # a long review fits; a pasted book does not
CLOCK_SKEW = timedelta(minutes=5)

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH)]
Decision = Literal["pass", "review", "reject"]


TopicName = Annotated[str, StringConstraints(min_length=1, max_length=TOPIC_NAME_MAX)]


class PostCreate(BaseModel):
    """A post as written; ``text`` is stored exactly as sent (normalisation is for scoring)."""

    model_config = ConfigDict(extra="forbid")

    id: Id = Field(description="The feed service's post id; resending it is idempotent.")
    circle_id: Id
    author_id: Id = Field(description="A stored user (create it with POST /v1/users).")
    text: str = Field(min_length=1, max_length=MAX_POST_CHARS, pattern=NON_BLANK)
    item_id: Id | None = Field(None, description="The product (SKU) the post is about.")
    order_id: Id | None = Field(
        None, description="The author's order of the item: makes the post a verified purchase."
    )
    image_count: StrictInt = Field(0, ge=0, le=100)
    created_at: AwareDatetime | None = Field(
        None,
        description="When it was posted (UTC or with offset); default: now. A time more "
        "than 5 minutes ahead of the service's clock is taken as now.",
    )
    topics: tuple[TopicName, ...] = Field(
        (), max_length=10, description="Topic tags (话题) besides the text's `#tags#`."
    )

    @field_validator("created_at")
    @classmethod
    def _not_future(cls, value: datetime | None) -> datetime | None:
        return not_after_now(value)


def not_after_now(value: datetime | None) -> datetime | None:
    """A client time beyond our clock (and its skew allowance) is taken as now: the
    service's clock decides what is recent, and a future time would stay "newest" forever."""
    now = datetime.now(UTC)
    value = in_utc(value)
    return now if value is not None and value > now + CLOCK_SKEW else value


def in_utc(value: datetime | None) -> datetime | None:
    """The time in UTC, as it is stored; a time before UTC's first instant (year 1 with a
    positive offset) is that instant rather than an overflow."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


class PostBatch(BaseModel):
    """Up to 500 posts in one call (cheaper per post than one call each)."""

    model_config = ConfigDict(extra="forbid")

    posts: list[PostCreate] = Field(
        min_length=1,
        max_length=MAX_POSTS,
        description="A post id sent twice with the same content is stored once (the later "
        "copy answers as replayed); with different content the batch is refused (409).",
    )


def _body_kind(value: Any) -> str:
    """``{"posts": [...]}`` is a batch; anything else is read as one post."""
    if isinstance(value, dict):
        return "batch" if "posts" in value else "post"
    return "batch" if isinstance(value, PostBatch) else "post"


PostIngestRequest = Annotated[
    Annotated[PostCreate, Tag("post")] | Annotated[PostBatch, Tag("batch")],
    Discriminator(_body_kind),
]


class ModerationLabel(BaseModel):
    """A label over its threshold: probability, band and the spans that raised it."""

    model_config = ConfigDict(extra="allow")

    label: str = Field(description="contact, ad, offensive, spam, privacy or circle_rule.")
    prob: float
    band: Literal["review", "reject"] | None = None
    spans: list[dict[str, Any]] = Field(
        description="Offsets into the original text, the characters and the evidence."
    )


class ModerationResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    decision: Decision
    labels: list[ModerationLabel]


class QualityResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    score: float = Field(description="In [0, 1]: how much the post helps another shopper.")
    tier: int | str = Field(description="0 unusable, 1 low, 2 good, 3 excellent.")


class TrustResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    level: str = Field(description="The post's base level, L2–L6 (trust-levels.md).")
    probs: dict[str, float]
    reasons: list[Any] = Field(description="The strongest signals behind the level.")


class PostIngestResult(BaseModel):
    """What ingest decided for one post (the same on a replay of the same post)."""

    model_config = ConfigDict(protected_namespaces=())

    post_id: str
    status: PostStatus
    replayed: bool = Field(description="True: the post was already stored; nothing changed.")
    moderation: ModerationResult | None
    quality: QualityResult | None = Field(description="null while no quality model exists.")
    trust: TrustResult | None = Field(description="null while no trust model exists.")
    near_duplicate_of: str | None = Field(
        description="A stored post, of any circle, this one nearly copies (cosine ≥ 0.95)."
    )
    content_type: str | None = Field(
        None,
        description="guide, share, usage or question (models/content_type.py); null for "
        "posts stored before it was inferred.",
    )
    model_versions: dict[str, str] = Field(
        description="Version of each model used; `rules` / `unavailable` when degraded."
    )


class PostIngestResponse(BaseModel):
    results: list[PostIngestResult] = Field(description="One per post sent, in order.")
    stored: int = Field(description="Posts written by this call.")
    replayed: int = Field(description="Posts already stored (answered from the store).")
