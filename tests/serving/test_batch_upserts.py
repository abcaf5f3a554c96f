"""Batch upserts on SQLite and PostgreSQL: idempotent, friendships both ways, unknown ids listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from quanzi.serving.batch_upserts import add_interactions, upsert_relations, upsert_users
from quanzi.serving.editorial.errors import NotFound
from quanzi.storage.orm import BrandRelation, Interaction, User, UserRelation

T0 = datetime(2025, 10, 1, tzinfo=UTC)


def _user(uid: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": uid,
        "kind": "user",
        "display_name": uid,
        "follower_count": 0,
        "creator_certified": False,
        "account_created_at": T0,
        "merchant_circle_id": None,
        **kw,
    }


def test_users_upsert_is_idempotent_and_updates(factory: Any) -> None:
    s = factory.session
    assert upsert_users(s, [_user("u-1"), _user("u-2")]) == 2
    upsert_users(s, [_user("u-1"), _user("u-2")])
    upsert_users(s, [_user("u-1", kind="creator", creator_certified=True, follower_count=9)])
    s.expire_all()
    assert s.scalar(select(func.count()).select_from(User)) == 2
    u1 = s.get(User, "u-1")
    assert (u1.kind, u1.creator_certified, u1.follower_count) == ("creator", True, 9)


def test_unknown_merchant_circle_is_listed(factory: Any) -> None:
    with pytest.raises(NotFound, match="circles: c-9"):
        upsert_users(factory.session, [_user("m-1", kind="merchant", merchant_circle_id="c-9")])


def test_relations_upsert_friendship_both_ways_and_delete(factory: Any) -> None:
    s = factory.session
    circle = factory.circle(id="c-1")
    a, b = factory.user(id="a"), factory.user(id="b")
    edges = [
        {"user_id": "a", "other_id": "b", "kind": "friend"},
        {"user_id": "a", "other_id": "b", "kind": "follow"},
    ]
    brand = [{"user_id": "a", "circle_id": circle.id, "kind": "fan", "active": True}]
    for _ in range(2):
        upsert_relations(s, edges, brand)
    pairs = set(
        s.execute(select(UserRelation.user_id, UserRelation.kind, UserRelation.other_id)).all()
    )
    assert pairs == {("a", "friend", "b"), ("b", "friend", "a"), ("a", "follow", "b")}
    upsert_relations(s, [{**edges[0], "deleted": True}], [{**brand[0], "active": False}])
    s.expire_all()
    pairs = set(
        s.execute(select(UserRelation.user_id, UserRelation.kind, UserRelation.other_id)).all()
    )
    assert pairs == {("a", "follow", "b")}
    assert [r.active for r in s.scalars(select(BrandRelation))] == [False]
    assert (a.id, b.id) == ("a", "b")


def test_relations_and_interactions_list_every_unknown_id(factory: Any) -> None:
    circle = factory.circle(id="c-1")
    user = factory.user(id="u-1")
    factory.post(circle, user, id="p-1")
    with pytest.raises(NotFound) as err:
        upsert_relations(
            factory.session,
            [{"user_id": "u-1", "other_id": "x-2", "kind": "follow"}],
            [{"user_id": "x-1", "circle_id": "c-9", "kind": "fan", "active": True}],
        )
    assert "users: x-1, x-2" in str(err.value) and "circles: c-9" in str(err.value)
    with pytest.raises(NotFound, match="users: u-9; posts: p-8, p-9"):
        add_interactions(
            factory.session,
            [
                {"user_id": "u-9", "post_id": "p-9", "kind": "like", "created_at": T0},
                {"user_id": "u-1", "post_id": "p-8", "kind": "like", "created_at": T0},
            ],
        )


def test_interactions_are_appended(factory: Any) -> None:
    circle = factory.circle(id="c-1")
    user = factory.user(id="u-1")
    factory.post(circle, user, id="p-1")
    rows = [
        {
            "user_id": "u-1",
            "post_id": "p-1",
            "kind": k,
            "created_at": T0,
            "position": 3,
            "request_id": "r-1",
        }
        for k in ("impression", "click", "like")
    ]
    assert add_interactions(factory.session, rows) == 3
    kinds = factory.session.scalars(select(Interaction.kind).order_by(Interaction.id)).all()
    assert kinds == ["impression", "click", "like"]
