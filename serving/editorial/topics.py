"""A circle's topics (话题): list, create, rename, hide, merge, their posts, trending, tags
on ingest, assignment of untagged posts and discovery by clustering.

Editors' choices stick: an edited topic (renamed, hidden, merged, created by hand) is
never touched by re-clustering, and a discovered name an editor hid or merged away is
not discovered again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from quanzi.models.topics.assignment import DEFAULT_THRESHOLD, TopicCentroids, lexical_vectors
from quanzi.models.topics.discovery import discover
from quanzi.models.topics.tags import InvalidTag, normalize_tag
from quanzi.models.topics.trending import Trend, TrendParams, trending
from quanzi.serving.editorial.errors import Conflict, Invalid, NotFound
from quanzi.storage.orm import Circle, Interaction, Post, PostEmbedding, PostTopic, Topic


def _circle(session: Session, circle_id: str) -> Circle:
    circle = session.get(Circle, circle_id)
    if circle is None:
        raise NotFound(f"circle {circle_id!r} not found")
    return circle


def _topic(session: Session, topic_id: int) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise NotFound(f"topic {topic_id} not found")
    return topic


def _name(name: str) -> str:
    try:
        return normalize_tag(name)
    except InvalidTag as exc:
        raise Invalid(str(exc)) from exc


def list_topics(
    session: Session, circle_id: str, include_hidden: bool = False
) -> list[tuple[Topic, int]]:
    """The circle's topics with their post counts, most posts first."""
    _circle(session, circle_id)
    statuses = ("active", "hidden") if include_hidden else ("active",)
    counts = (
        select(PostTopic.topic_id, func.count().label("n")).group_by(PostTopic.topic_id).subquery()
    )
    rows = session.execute(
        select(Topic, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.topic_id == Topic.id)
        .where(Topic.circle_id == circle_id, Topic.status.in_(statuses))
        .order_by(func.coalesce(counts.c.n, 0).desc(), Topic.id)
    ).all()
    return [(t, int(n)) for t, n in rows]


def create_topic(
    session: Session, circle_id: str, name: str, editor: str, keywords: Sequence[str] = ()
) -> Topic:
    _circle(session, circle_id)
    tag = _name(name)
    if session.scalar(select(Topic).where(Topic.circle_id == circle_id, Topic.name == tag)):
        raise Conflict(f"circle {circle_id!r} already has a topic named {tag!r}")
    topic = Topic(
        circle_id=circle_id,
        name=tag,
        status="active",
        source="editor",
        edited=True,
        keywords=list(keywords),
        updated_by=editor,
    )
    session.add(topic)
    session.flush()
    return topic


def update_topic(
    session: Session, topic_id: int, editor: str, name: str | None, hidden: bool | None
) -> Topic:
    """Rename and/or hide / show a topic; marks it edited so re-clustering leaves it."""
    topic = _topic(session, topic_id)
    if topic.status == "merged":
        raise Conflict(f"topic {topic_id} was merged into {topic.merged_into}; edit that one")
    if name is not None:
        tag = _name(name)
        clash = session.scalar(
            select(Topic).where(
                Topic.circle_id == topic.circle_id, Topic.name == tag, Topic.id != topic.id
            )
        )
        if clash is not None:
            raise Conflict(f"topic {clash.id} is already named {tag!r}: merge instead")
        topic.name = tag
    if hidden is not None:
        topic.status = "hidden" if hidden else "active"
    topic.edited = True
    topic.updated_by = editor
    return topic


def merge_topic(session: Session, topic_id: int, into_id: int, editor: str) -> Topic:
    """Move every post of ``topic_id`` into ``into_id`` (same circle) and retire it."""
    if topic_id == into_id:
        raise Conflict("a topic cannot be merged into itself: choose another target topic")
    source, target = _topic(session, topic_id), _topic(session, into_id)
    if source.circle_id != target.circle_id:
        raise Conflict(
            f"topics {topic_id} and {into_id} are in different circles "
            f"({source.circle_id}, {target.circle_id}); merge within one circle"
        )
    if "merged" in (source.status, target.status):
        raise Conflict("one of the topics was already merged away")
    moved = session.scalars(select(PostTopic.post_id).where(PostTopic.topic_id == into_id)).all()
    session.execute(
        delete(PostTopic).where(PostTopic.topic_id == topic_id, PostTopic.post_id.in_(moved))
    )
    session.execute(
        update(PostTopic).where(PostTopic.topic_id == topic_id).values(topic_id=into_id)
    )
    source.status, source.merged_into, source.edited, source.updated_by = (
        "merged",
        into_id,
        True,
        editor,
    )
    target.edited, target.updated_by = True, editor
    return target


def topic_posts(session: Session, topic_id: int, limit: int) -> list[tuple[str, int, datetime]]:
    """A topic's passed posts ranked by engagement (likes, favourites, comments, shares),
    then newest: (post id, engagement, created)."""
    topic = _topic(session, topic_id)
    if topic.status == "merged" and topic.merged_into:
        topic_id = topic.merged_into
    engaged = (
        select(Interaction.post_id, func.count().label("n"))
        .where(Interaction.kind.in_(("like", "favourite", "comment", "share")))
        .group_by(Interaction.post_id)
        .subquery()
    )
    rows = session.execute(
        select(Post.id, func.coalesce(engaged.c.n, 0), Post.created_at)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .outerjoin(engaged, engaged.c.post_id == Post.id)
        .where(PostTopic.topic_id == topic_id, Post.status.in_(("pass", "pending")))
        .order_by(func.coalesce(engaged.c.n, 0).desc(), Post.created_at.desc(), Post.id)
        .limit(limit)
    ).all()
    return [(pid, int(n), t) for pid, n, t in rows]


def trending_topics(
    session: Session, circle_id: str, now: datetime, params: TrendParams, limit: int
) -> list[tuple[Topic, Trend]]:
    """The circle's visible topics ranked by smoothed burst, with the evidence."""
    _circle(session, circle_id)
    horizon = max(params.recent_hours + params.baseline_hours, params.recent_hours * 8)
    since = now.timestamp() - horizon * 3600
    topics = {
        t.id: t
        for t in session.scalars(
            select(Topic).where(Topic.circle_id == circle_id, Topic.status == "active")
        )
    }
    if not topics:
        return []
    rows = session.execute(
        select(PostTopic.topic_id, PostTopic.created_at).where(
            PostTopic.topic_id.in_(list(topics)),
            PostTopic.created_at >= datetime.fromtimestamp(since, now.tzinfo),
            PostTopic.created_at <= now,
        )
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    ts = np.array([r[1].timestamp() for r in rows], dtype=np.float64)
    return [(topics[t.topic_id], t) for t in trending(ids, ts, now.timestamp(), params)[:limit]]


def tag_posts(session: Session, posts: Sequence[tuple[str, str, datetime, Sequence[str]]]) -> int:
    """Link posts to their ``#tags#`` (post id, circle, created, tags), creating a tag topic
    the first time a circle sees it (a hidden or merged name links to where it went)."""
    linked = 0
    for post_id, circle_id, created, tags in posts:
        for tag in tags:
            topic = session.scalar(
                select(Topic).where(Topic.circle_id == circle_id, Topic.name == tag)
            )
            if topic is None:
                topic = Topic(circle_id=circle_id, name=tag, status="active", source="tag")
                session.add(topic)
                session.flush()
            target = topic.merged_into if topic.status == "merged" else topic.id
            if target is None or session.get(PostTopic, (post_id, target)) is not None:
                continue
            session.add(
                PostTopic(post_id=post_id, topic_id=target, source="tag", created_at=created)
            )
            linked += 1
    return linked


def _vectors(session: Session, post_ids: Sequence[str], version: str) -> dict[str, np.ndarray]:
    rows = session.execute(
        select(PostEmbedding.post_id, PostEmbedding.vector).where(
            PostEmbedding.encoder_version == version, PostEmbedding.post_id.in_(list(post_ids))
        )
    ).all()
    return {pid: np.frombuffer(v, dtype="<f4") for pid, v in rows}


def topics_fingerprint(session: Session, circle_ids: Sequence[str]) -> dict[str, tuple]:
    """Each circle's topics as ``(id, status)`` pairs: what the centroids depend on beyond
    the tagged posts (a topic created, hidden, shown or merged changes it)."""
    out: dict[str, list[tuple[int, str]]] = {c: [] for c in circle_ids}
    for cid, tid, status in session.execute(
        select(Topic.circle_id, Topic.id, Topic.status)
        .where(Topic.circle_id.in_(list(circle_ids)))
        .order_by(Topic.id)
    ):
        out[cid].append((tid, status))
    return {c: tuple(v) for c, v in out.items()}


def circle_centroids(
    session: Session, circle_id: str, encoder_version: str
) -> TopicCentroids | None:
    """Centroids of the circle's visible topics from their tagged posts (encoder vectors
    stored under ``encoder_version`` and char n-grams of the texts); None without any."""
    topics = list(
        session.scalars(
            select(Topic.id).where(Topic.circle_id == circle_id, Topic.status == "active")
        )
    )
    tagged = session.execute(
        select(PostTopic.post_id, PostTopic.topic_id, Post.text)
        .join(Post, Post.id == PostTopic.post_id)
        .where(PostTopic.topic_id.in_(topics), PostTopic.source == "tag")
    ).all()
    if not tagged:
        return None
    vec = _vectors(session, [p for p, _, _ in tagged], encoder_version)
    members = [(vec[p], t, text) for p, t, text in tagged if p in vec]
    if not members:
        return None
    return TopicCentroids.from_members(
        topics,
        np.vstack([m for m, _, _ in members]),
        [t for _, t, _ in members],
        lexical_vectors([text for _, _, text in members]),
    )


def assign_untagged(
    session: Session, circle_id: str, encoder_version: str, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Assign the circle's posts without a topic to the nearest topic centroid (centroids
    of each visible topic's tagged posts) when the blended score clears ``threshold``."""
    cents = circle_centroids(session, circle_id, encoder_version)
    if cents is None:
        return 0
    topics = select(Topic.id).where(Topic.circle_id == circle_id)
    have = select(PostTopic.post_id).where(PostTopic.topic_id.in_(topics))
    untagged = session.execute(
        select(Post.id, Post.created_at, Post.text).where(
            Post.circle_id == circle_id, Post.id.not_in(have)
        )
    ).all()
    uvec = _vectors(session, [p for p, _, _ in untagged], encoder_version)
    todo = [(p, t, text) for p, t, text in untagged if p in uvec]
    if not todo:
        return 0
    got, score = cents.assign(
        np.vstack([uvec[p] for p, _, _ in todo]),
        threshold,
        lexical_vectors([text for _, _, text in todo]),
    )
    return add_assignments(
        session, [(pid, created) for pid, created, _ in todo], got, score.tolist()
    )


def add_assignments(
    session: Session,
    posts: Sequence[tuple[str, datetime]],
    topic_ids: Sequence[int | None],
    scores: Sequence[float],
) -> int:
    """Link each (post id, created) to its assigned topic (None: no link); returns links."""
    n = 0
    for (pid, created), tid, s in zip(posts, topic_ids, scores, strict=True):
        if tid is not None:
            session.add(
                PostTopic(post_id=pid, topic_id=tid, source="assigned", score=s, created_at=created)
            )
            n += 1
    return n


def discover_topics(
    session: Session, circle_id: str, encoder_version: str, recent: int = 2000, min_size: int = 8
) -> list[Topic]:
    """Cluster the circle's newest posts; create a discovered topic per new cluster name
    (a name that exists — active, hidden or merged, edited or not — is left alone) and
    assign its members to it. A cluster whose name exists (active, hidden or merged,
    edited or not) or whose posts mostly sit in an existing topic is left alone."""
    _circle(session, circle_id)
    posts = session.execute(
        select(Post.id, Post.text, Post.created_at)
        .where(Post.circle_id == circle_id)
        .order_by(Post.created_at.desc())
        .limit(recent)
    ).all()
    vec = _vectors(session, [p for p, _, _ in posts], encoder_version)
    rows = [(p, text, t) for p, text, t in posts if p in vec]
    if not rows:
        return []
    clusters = discover(
        [r[1] for r in rows], np.vstack([vec[r[0]] for r in rows]), min_cluster_size=min_size
    )
    known = set(session.scalars(select(Topic.name).where(Topic.circle_id == circle_id)))
    linked = set(
        session.scalars(
            select(PostTopic.post_id)
            .join(Topic, Topic.id == PostTopic.topic_id)
            .where(Topic.circle_id == circle_id, Topic.status != "merged")
        )
    )
    created = []
    for cluster in clusters:
        # a known name, or mostly posts an existing topic already holds (e.g. one an editor
        # renamed): the editors' topic stands, nothing is recreated
        overlap = sum(rows[i][0] in linked for i in cluster.members) / len(cluster.members)
        if cluster.name in known or overlap >= 0.5:
            continue
        topic = Topic(
            circle_id=circle_id,
            name=cluster.name[:30],
            status="active",
            source="discovered",
            keywords=list(cluster.keywords),
        )
        session.add(topic)
        session.flush()
        for i in cluster.members:
            pid, _, t = rows[i]
            if session.get(PostTopic, (pid, topic.id)) is None:
                session.add(
                    PostTopic(
                        post_id=pid, topic_id=topic.id, source="assigned", score=1.0, created_at=t
                    )
                )
        created.append(topic)
    return created
