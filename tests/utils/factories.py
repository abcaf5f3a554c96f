"""Row factories: valid rows with readable defaults, one method per table.

Every method adds its row and flushes, so generated ids and defaults are filled in and
foreign keys are checked at once. Timestamps advance one minute per row from ``start``,
so ordering by time is deterministic. Reached through the ``factory`` fixture.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from quanzi.storage.orm import (
    BrandRelation,
    Circle,
    CircleRule,
    Collection,
    CollectionItem,
    HotListOverride,
    Interaction,
    Item,
    Order,
    Post,
    PostScore,
    ReviewDecision,
    ReviewItem,
    User,
    UserRelation,
)

START = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)


class Factory:
    """Builds rows in ``session``; ids are ``<prefix>-<n>`` unless given."""

    def __init__(self, session: Session, start: datetime = START) -> None:
        self.session = session
        self._counter = itertools.count(1)
        self._clock = itertools.count(0)
        self.start = start

    def _n(self) -> int:
        return next(self._counter)

    def tick(self) -> datetime:
        """The next timestamp: one minute after the previous one."""
        return self.start + timedelta(minutes=next(self._clock))

    def _add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def circle(self, **kw: Any) -> Circle:
        n = self._n()
        kw.setdefault("id", f"circle-{n}")
        kw.setdefault("name", f"品牌{n}官方圈")
        kw.setdefault("category", "beauty")
        kw.setdefault("brand", f"Brand {n}")
        return self._add(Circle(**kw))

    def user(self, **kw: Any) -> User:
        n = self._n()
        kw.setdefault("id", f"user-{n}")
        kw.setdefault("display_name", f"用户{n}")
        kw.setdefault("account_created_at", self.start - timedelta(days=365))
        return self._add(User(**kw))

    def item(self, circle: Circle, **kw: Any) -> Item:
        n = self._n()
        kw.setdefault("id", f"item-{n}")
        kw.setdefault("title", f"商品{n}")
        kw.setdefault("price", 99.0)
        return self._add(Item(circle_id=circle.id, **kw))

    def order(self, user: User, item: Item, **kw: Any) -> Order:
        kw.setdefault("id", f"order-{self._n()}")
        kw.setdefault("created_at", self.tick())
        return self._add(Order(user_id=user.id, item_id=item.id, **kw))

    def post(self, circle: Circle, author: User, **kw: Any) -> Post:
        n = self._n()
        kw.setdefault("id", f"post-{n}")
        kw.setdefault("text", f"用了一个月，分享一下真实感受 #{n}")
        kw.setdefault("status", "pass")
        kw.setdefault("created_at", self.tick())
        return self._add(Post(circle_id=circle.id, author_id=author.id, **kw))

    def score(self, post: Post, **kw: Any) -> PostScore:
        kw.setdefault("model_name", "quality")
        kw.setdefault("model_version", "1")
        kw.setdefault("score", 0.5)
        kw.setdefault("created_at", self.tick())
        return self._add(PostScore(post_id=post.id, **kw))

    def interaction(self, user: User, post: Post, kind: str = "click", **kw: Any) -> Interaction:
        kw.setdefault("created_at", self.tick())
        return self._add(Interaction(user_id=user.id, post_id=post.id, kind=kind, **kw))

    def user_relation(self, user: User, other: User, kind: str = "follow") -> UserRelation:
        return self._add(UserRelation(user_id=user.id, other_id=other.id, kind=kind))

    def friends(self, a: User, b: User) -> None:
        """Friendship is stored in both directions."""
        self.user_relation(a, b, "friend")
        self.user_relation(b, a, "friend")

    def brand_relation(
        self, user: User, circle: Circle, kind: str = "fan", active: bool = True
    ) -> BrandRelation:
        return self._add(
            BrandRelation(user_id=user.id, circle_id=circle.id, kind=kind, active=active)
        )

    def collection(self, circle: Circle, **kw: Any) -> Collection:
        kw.setdefault("title", f"合集{self._n()}")
        return self._add(Collection(circle_id=circle.id, **kw))

    def collection_item(self, collection: Collection, post: Post, **kw: Any) -> CollectionItem:
        return self._add(CollectionItem(collection_id=collection.id, post_id=post.id, **kw))

    def review(self, post: Post, **kw: Any) -> ReviewItem:
        kw.setdefault("reasons", {"rules": ["contact_diversion"]})
        return self._add(ReviewItem(post_id=post.id, circle_id=post.circle_id, **kw))

    def decision(self, review: ReviewItem, **kw: Any) -> ReviewDecision:
        kw.setdefault("editor", "editor-1")
        kw.setdefault("decision", "pass")
        kw.setdefault("reason", "正常分享")
        return self._add(ReviewDecision(review_id=review.id, post_id=review.post_id, **kw))

    def rule(self, circle: Circle, term: str = "加微信", action: str = "block") -> CircleRule:
        return self._add(CircleRule(circle_id=circle.id, term=term, action=action))

    def override(self, post: Post, action: str = "pin", **kw: Any) -> HotListOverride:
        kw.setdefault("value", 1.0)
        return self._add(
            HotListOverride(circle_id=post.circle_id, post_id=post.id, action=action, **kw)
        )
