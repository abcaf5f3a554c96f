"""Read helpers answer the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from quanzi.storage.queries import (
    InvalidCursor,
    PostCursor,
    get_circle,
    get_post,
    get_user,
    list_circle_posts,
    list_circles,
)


def test_list_circles_counts_posts_and_filters_by_category(session: Session, factory: Any) -> None:
    beauty = factory.circle(id="a-beauty", category="beauty")
    food = factory.circle(id="b-food", category="food")
    factory.circle(id="c-empty", category="beauty")
    author = factory.user()
    for _ in range(3):
        factory.post(beauty, author)
    factory.post(food, author, status="reject")
    session.commit()

    page, total = list_circles(session)
    assert total == 3
    assert [(s.circle.id, s.post_count) for s in page] == [
        ("a-beauty", 3),
        ("b-food", 1),
        ("c-empty", 0),
    ]
    page, total = list_circles(session, category="beauty", limit=1, offset=1)
    assert total == 2
    assert [s.circle.id for s in page] == ["c-empty"]


def test_get_circle_returns_none_for_unknown_id(session: Session, factory: Any) -> None:
    circle = factory.circle()
    factory.post(circle, factory.user())
    session.commit()
    summary = get_circle(session, circle.id)
    assert summary is not None and summary.post_count == 1
    assert get_circle(session, "nope") is None


def test_get_user_counts_relations(session: Session, factory: Any) -> None:
    me, friend, fan1, fan2, star = (factory.user() for _ in range(5))
    circle, other_circle = factory.circle(), factory.circle()
    factory.friends(me, friend)
    factory.user_relation(me, star, "follow")
    factory.user_relation(fan1, me, "follow")
    factory.user_relation(fan2, me, "follow")
    factory.brand_relation(me, circle, "fan", active=True)
    factory.brand_relation(me, other_circle, "fan", active=False)
    factory.brand_relation(me, circle, "past_buyer", active=True)
    factory.post(circle, me)
    session.commit()

    detail = get_user(session, me.id)
    assert detail is not None
    assert (detail.friends, detail.following, detail.followers, detail.post_count) == (1, 1, 2, 1)
    assert (detail.brand_relations["fan"].active, detail.brand_relations["fan"].silent) == (1, 1)
    assert detail.brand_relations["past_buyer"].active == 1
    assert detail.brand_relations["member"].active == 0
    assert get_user(session, "ghost") is None


def test_get_post_keeps_each_models_latest_score(session: Session, factory: Any) -> None:
    circle, author = factory.circle(), factory.user()
    post = factory.post(circle, author)
    factory.score(post, model_name="quality", model_version="1", score=0.2)
    factory.score(post, model_name="quality", model_version="2", score=0.9)  # later
    factory.score(post, model_name="trust", model_version="1", score=None, label="L3")
    session.commit()

    detail = get_post(session, post.id)
    assert detail is not None
    assert [(s.model_name, s.model_version, s.score, s.label) for s in detail.scores] == [
        ("quality", "2", 0.9, None),
        ("trust", "1", None, "L3"),
    ]
    assert get_post(session, "nope") is None


def test_verified_purchase_needs_the_authors_own_earlier_order_of_the_item(
    session: Session, factory: Any
) -> None:
    circle = factory.circle()
    buyer, other = factory.user(), factory.user()
    item, other_item = factory.item(circle), factory.item(circle)
    order = factory.order(buyer, item)
    foreign_order = factory.order(other, item)
    cases = {
        "verified": factory.post(circle, buyer, item_id=item.id, order_id=order.id),
        "no-order": factory.post(circle, buyer, item_id=item.id),
        "someone-elses-order": factory.post(
            circle, buyer, item_id=item.id, order_id=foreign_order.id
        ),
        "wrong-item": factory.post(circle, buyer, item_id=other_item.id, order_id=order.id),
        "before-buying": factory.post(
            circle,
            buyer,
            item_id=item.id,
            order_id=order.id,
            created_at=order.created_at - timedelta(days=1),
        ),
    }
    session.commit()
    verified = {name: get_post(session, p.id).verified_purchase for name, p in cases.items()}
    assert verified == {
        "verified": True,
        "no-order": False,
        "someone-elses-order": False,
        "wrong-item": False,
        "before-buying": False,
    }


def test_circle_posts_page_newest_first_without_gaps_or_repeats(
    session: Session, factory: Any
) -> None:
    circle, other = factory.circle(), factory.circle()
    author = factory.user()
    same_time = factory.tick()
    # Three posts share one timestamp: the id breaks the tie, so no page boundary loses one.
    posts = [
        factory.post(
            circle, author, id=f"p-{i:02d}", created_at=same_time if i < 3 else factory.tick()
        )
        for i in range(7)
    ]
    factory.post(other, author)
    session.commit()
    expected = [p.id for p in sorted(posts, key=lambda p: (p.created_at, p.id), reverse=True)]

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = list_circle_posts(session, circle.id, limit=3, cursor=cursor)
        seen += [d.post.id for d in page.posts]
        cursor = page.next_cursor
        if cursor is None:
            break
        cursor = PostCursor.decode(cursor.encode())  # as a client would send it back
    assert seen == expected


def test_circle_posts_filter_by_status(session: Session, factory: Any) -> None:
    circle, author = factory.circle(), factory.user()
    factory.post(circle, author, id="ok", status="pass")
    factory.post(circle, author, id="bad", status="reject")
    session.commit()
    page = list_circle_posts(session, circle.id, statuses=["pass"])
    assert [d.post.id for d in page.posts] == ["ok"]
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "token",
    ["", "not-base64!!", "bnVsbA", "WyJ4IiwgInkiXQ", "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwgInAiXQ"],
)
def test_foreign_cursor_is_rejected(token: str) -> None:
    # null; ["x", "y"]; a naive timestamp
    with pytest.raises(InvalidCursor):
        PostCursor.decode(token)
