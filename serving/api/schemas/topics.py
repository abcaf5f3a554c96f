"""Topic (话题) schemas; a topic name is at most ``TOPIC_NAME_MAX`` characters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from quanzi.serving.api.schemas.common import ID_MAX_LENGTH
from quanzi.storage.orm import TOPIC_NAME_MAX


class TopicPublic(BaseModel):
    id: int
    circle_id: str
    name: str
    status: str
    source: str
    edited: bool
    keywords: list[str]
    post_count: int | None = Field(None, description="Posts in the topic (lists only).")


# A topic name: no '#' inside (one may wrap it, #控油#) and no whitespace or control
# characters (what ``models.topics.tags.normalize_tag`` refuses), so the schema says it.
TOPIC_NAME_PATTERN = r"^#?[^#\s\x00-\x1f\x7f-\x9f\uff03\ufe5f]+#?$"
TOPIC_ID_MAX = 2**31 - 1


class TopicCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circle_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    name: str = Field(min_length=1, max_length=TOPIC_NAME_MAX, pattern=TOPIC_NAME_PATTERN)
    keywords: list[str] = Field(default_factory=list, max_length=20)


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=TOPIC_NAME_MAX, pattern=TOPIC_NAME_PATTERN
    )
    hidden: bool | None = None


class TopicMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: int = Field(ge=1, le=TOPIC_ID_MAX, description="The topic that receives the posts.")


class TopicPost(BaseModel):
    post_id: str
    engagement: int
    created_at: datetime


class TrendingTopic(BaseModel):
    topic: TopicPublic
    burst: float = Field(description="Smoothed recent rate / the topic's own baseline rate.")
    recent: int
    baseline: int
    expected: float
    windows: list[int] = Field(description="Posts per recent-window length, oldest first.")
