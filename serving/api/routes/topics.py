"""Topics (话题): a circle's topics, one topic's ranked posts, trending topics, and the
editors' rename / hide / merge / create (kept across re-clustering)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from quanzi.models.topics.trending import TrendParams
from quanzi.serving.api.deps import READ_ROLES, EditorKey, ModelsDep, SessionDep
from quanzi.serving.api.schemas.common import ID_MAX_LENGTH
from quanzi.serving.api.schemas.topics import (
    TopicCreate,
    TopicMerge,
    TopicPost,
    TopicPublic,
    TopicUpdate,
    TrendingTopic,
)
from quanzi.serving.editorial import topics as logic
from quanzi.serving.editorial.errors import Invalid

router = APIRouter(prefix="/v1/topics", tags=["topics"])
CircleQuery = Annotated[str, Query(min_length=1, max_length=ID_MAX_LENGTH)]
# ``{topic_id:int}`` in the paths: /v1/topics/discover and /v1/topics/trending are never read
# as a topic id, so another method on them is a 405 naming theirs, not a 422 about an id.
TopicId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NO_CIRCLE = {404: {"description": "No such circle"}}
NO_TOPIC = {404: {"description": "No such topic"}}


def _public(topic: logic.Topic, count: int = 0) -> TopicPublic:
    return TopicPublic(
        id=topic.id,
        circle_id=topic.circle_id,
        name=topic.name,
        status=topic.status,
        source=topic.source,
        edited=topic.edited,
        keywords=list(topic.keywords or []),
        post_count=count,
    )


@router.get("", dependencies=[READ_ROLES], responses=NO_CIRCLE)
def list_topics(
    circle_id: CircleQuery, session: SessionDep, include_hidden: bool = False
) -> list[TopicPublic]:
    """A circle's topics, most posts first (hidden ones on request)."""
    return [_public(t, n) for t, n in logic.list_topics(session, circle_id, include_hidden)]


@router.get("/trending", dependencies=[READ_ROLES], responses=NO_CIRCLE)
def trending_topics(
    circle_id: CircleQuery,
    session: SessionDep,
    at: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[TrendingTopic]:
    """The circle's topics ranked by smoothed burst, with counts per window as evidence."""
    now = at or datetime.now(UTC)
    if now.tzinfo is None:
        raise Invalid("`at` needs a time zone, e.g. 2026-11-20T12:00:00+08:00")
    return [
        TrendingTopic(
            topic=_public(t),
            burst=tr.burst,
            recent=tr.recent,
            baseline=tr.baseline,
            expected=tr.expected,
            windows=tr.windows,
        )
        for t, tr in logic.trending_topics(session, circle_id, now, TrendParams(), limit)
    ]


@router.get("/{topic_id:int}/posts", dependencies=[READ_ROLES], responses=NO_TOPIC)
def list_topic_posts(
    topic_id: TopicId, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[TopicPost]:
    """One topic's posts, most engaged first."""
    return [
        TopicPost(post_id=p, engagement=n, created_at=t)
        for p, n, t in logic.topic_posts(session, topic_id, limit)
    ]


@router.post(
    "",
    status_code=201,
    responses={**NO_CIRCLE, 409: {"description": "The circle already has a topic of that name"}},
)
def create_topic(body: TopicCreate, session: SessionDep, who: EditorKey) -> TopicPublic:
    """An editor's topic (kept across re-clustering)."""
    return _public(logic.create_topic(session, body.circle_id, body.name, who.name, body.keywords))


@router.patch(
    "/{topic_id:int}",
    responses={
        **NO_TOPIC,
        409: {"description": "The topic was merged away, or another topic has that name"},
    },
)
def update_topic(
    topic_id: TopicId, body: TopicUpdate, session: SessionDep, who: EditorKey
) -> TopicPublic:
    """Rename, hide or show a topic."""
    return _public(logic.update_topic(session, topic_id, who.name, body.name, body.hidden))


@router.post(
    "/{topic_id:int}/merge",
    responses={
        404: {"description": "No such topic (either of the two)"},
        409: {
            "description": "A topic merged into itself or into another circle's topic, "
            "or one of them already merged away"
        },
    },
)
def merge_topic(
    topic_id: TopicId, body: TopicMerge, session: SessionDep, who: EditorKey
) -> TopicPublic:
    """Merge a topic into another of its circle; returns the receiving topic."""
    return _public(logic.merge_topic(session, topic_id, body.into, who.name))


@router.post("/discover", responses=NO_CIRCLE)
def discover_topics(
    circle_id: CircleQuery, session: SessionDep, models: ModelsDep, _: EditorKey
) -> list[TopicPublic]:
    """Cluster the circle's recent posts into new topics (editors' topics untouched)."""
    version = models.current().encoder_version
    if version is None:
        raise Invalid("no encoder loaded: topics are discovered from post embeddings")
    return [_public(t) for t in logic.discover_topics(session, circle_id, version)]
