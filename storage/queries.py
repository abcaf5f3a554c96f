"""Read helpers the service and the CLI share: one function per question asked of the store.

They take an open ``Session`` and return ORM rows or small dataclasses around them, so a
caller never writes SQL of its own and both backends answer alike (same ordering, same
tie-breaks, aware UTC datetimes).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from quanzi.storage.orm import (
    BRAND_RELATION_KINDS,
    BrandRelation,
    Circle,
    Order,
    Post,
    PostScore,
    PostTopic,
    Topic,
    User,
    UserRelation,
)


class InvalidCursor(ValueError):
    """A pagination cursor that this code did not issue (or that was altered)."""


@dataclass(frozen=True)
class PostCursor:
    """Where a newest-first page of posts stopped: the last post's (created_at, id).

    Keyset pagination rather than OFFSET: pages stay stable while new posts arrive and
    deep pages cost the same as the first (the (circle_id, created_at) index serves it).
    """

    created_at: datetime
    post_id: str

    def encode(self) -> str:
        """An opaque, URL-safe token."""
        raw = json.dumps([self.created_at.isoformat(), self.post_id], ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PostCursor:
        """Parse a token from :meth:`encode`; anything else raises :class:`InvalidCursor`."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            stamp, post_id = json.loads(raw)
            created_at = datetime.fromisoformat(stamp)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise InvalidCursor("cursor is not one this service issued") from exc
        if not isinstance(post_id, str) or created_at.tzinfo is None:
            raise InvalidCursor("cursor is not one this service issued")
        return cls(created_at=created_at, post_id=post_id)


@dataclass
class CircleSummary:
    circle: Circle
    post_count: int


@dataclass
class BrandRelationCount:
    active: int = 0
    silent: int = 0


@dataclass
class UserDetail:
    """A user with the size of their social graph in the store."""

    user: User
    friends: int
    following: int
    followers: int
    post_count: int
    brand_relations: dict[str, BrandRelationCount]


@dataclass
class PostDetail:
    """A post, whether it is a verified purchase, and each model's latest score."""

    post: Post
    verified_purchase: bool
    scores: list[PostScore] = field(default_factory=list)


@dataclass
class PostPage:
    posts: list[PostDetail]
    next_cursor: PostCursor | None


def verified_purchase_clause() -> ColumnElement[bool]:
    """True when the post's order is the author's own purchase of the post's item, made before
    the post (join ``Order`` on ``Post.order_id``)."""
    return and_(
        Post.order_id.is_not(None),
        Order.user_id == Post.author_id,
        Order.item_id == Post.item_id,
        Order.created_at <= Post.created_at,
    )


def _post_rows_query() -> Select[Any]:
    verified = case((verified_purchase_clause(), True), else_=False).label("verified")
    return select(Post, verified).outerjoin(Order, Order.id == Post.order_id)


def _post_counts(session: Session, circle_ids: Sequence[str]) -> dict[str, int]:
    """Stored posts per circle, for just these circles (served by the circle_id index)."""
    if not circle_ids:
        return {}
    rows = session.execute(
        select(Post.circle_id, func.count())
        .where(Post.circle_id.in_(list(circle_ids)))
        .group_by(Post.circle_id)
    ).all()
    return {circle_id: int(n) for circle_id, n in rows}


def get_circle(session: Session, circle_id: str) -> CircleSummary | None:
    """One circle with its number of stored posts, or ``None``."""
    circle = session.get(Circle, circle_id)
    if circle is None:
        return None
    return CircleSummary(circle, _post_counts(session, [circle_id]).get(circle_id, 0))


def list_circles(
    session: Session, *, category: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[CircleSummary], int]:
    """Circles ordered by id (stable across calls) and the total matching ``category``."""
    query = select(Circle)
    total_query = select(func.count()).select_from(Circle)
    if category is not None:
        query = query.where(Circle.category == category)
        total_query = total_query.where(Circle.category == category)
    circles = list(session.scalars(query.order_by(Circle.id).limit(limit).offset(offset)))
    counts = _post_counts(session, [c.id for c in circles])
    total = session.execute(total_query).scalar_one()
    return [CircleSummary(c, counts.get(c.id, 0)) for c in circles], int(total)


def get_user(session: Session, user_id: str) -> UserDetail | None:
    """One user with friend / following / follower counts and brand relations by kind."""
    user = session.get(User, user_id)
    if user is None:
        return None
    out_edges = dict(
        session.execute(
            select(UserRelation.kind, func.count())
            .where(UserRelation.user_id == user_id)
            .group_by(UserRelation.kind)
        ).all()
    )
    followers = session.execute(
        select(func.count())
        .select_from(UserRelation)
        .where(UserRelation.other_id == user_id, UserRelation.kind == "follow")
    ).scalar_one()
    post_count = session.execute(
        select(func.count()).select_from(Post).where(Post.author_id == user_id)
    ).scalar_one()
    brands = {kind: BrandRelationCount() for kind in BRAND_RELATION_KINDS}
    for kind, active, n in session.execute(
        select(BrandRelation.kind, BrandRelation.active, func.count())
        .where(BrandRelation.user_id == user_id)
        .group_by(BrandRelation.kind, BrandRelation.active)
    ).all():
        if active:
            brands[kind].active = int(n)
        else:
            brands[kind].silent = int(n)
    return UserDetail(
        user=user,
        friends=int(out_edges.get("friend", 0)),
        following=int(out_edges.get("follow", 0)),
        followers=int(followers),
        post_count=int(post_count),
        brand_relations=brands,
    )


def latest_scores(session: Session, post_ids: Iterable[str]) -> dict[str, list[PostScore]]:
    """For each post, the newest score of every model (by created_at, then id), by model name."""
    ids = list(post_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(PostScore)
        .where(PostScore.post_id.in_(ids))
        .order_by(
            PostScore.post_id,
            PostScore.model_name,
            PostScore.created_at.desc(),
            PostScore.id.desc(),
        )
    ).all()
    latest: dict[str, list[PostScore]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for score in rows:
        key = (score.post_id, score.model_name)
        if key not in seen:
            seen.add(key)
            latest[score.post_id].append(score)
    return dict(latest)


def _details(session: Session, rows: Sequence[Any]) -> list[PostDetail]:
    """Attach latest scores to (Post, verified) rows with one extra query for the whole page."""
    scores = latest_scores(session, (row[0].id for row in rows))
    return [PostDetail(row[0], bool(row[1]), scores.get(row[0].id, [])) for row in rows]


def get_post(session: Session, post_id: str) -> PostDetail | None:
    """One post with its verified-purchase flag and each model's latest score."""
    row = session.execute(_post_rows_query().where(Post.id == post_id)).first()
    if row is None:
        return None
    return _details(session, [row])[0]


def list_circle_posts(
    session: Session,
    circle_id: str,
    *,
    limit: int = 50,
    cursor: PostCursor | None = None,
    statuses: Sequence[str] | None = None,
) -> PostPage:
    """A circle's posts newest first (ties broken by id), one keyset page after ``cursor``."""
    query = _post_rows_query().where(Post.circle_id == circle_id)
    if statuses:
        query = query.where(Post.status.in_(list(statuses)))
    if cursor is not None:
        query = query.where(
            or_(
                Post.created_at < cursor.created_at,
                and_(Post.created_at == cursor.created_at, Post.id < cursor.post_id),
            )
        )
    rows = session.execute(
        query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last: Post = page[-1][0]
        next_cursor = PostCursor(created_at=last.created_at, post_id=last.id)
    return PostPage(posts=_details(session, page), next_cursor=next_cursor)


def circle_posts_clause(session: Session, circle_id: str) -> ColumnElement[bool]:
    """The posts a circle's hot list and banner draw from, by the circle's kind: a brand
    circle its own; an industry circle its member brand circles' (``parent_id``); an
    interest circle those of its visible topics, wherever posted; a SKU Q&A circle none
    (its content is questions and answers)."""
    kind = session.scalar(select(Circle.kind).where(Circle.id == circle_id))
    if kind == "industry":
        return Post.circle_id.in_(select(Circle.id).where(Circle.parent_id == circle_id))
    if kind == "interest":
        return Post.id.in_(
            select(PostTopic.post_id)
            .join(Topic, Topic.id == PostTopic.topic_id)
            .where(Topic.circle_id == circle_id, Topic.status == "active")
        )
    if kind == "sku_qa":
        return Post.id.is_(None)
    return Post.circle_id == circle_id
