"""Every table stores and returns its rows unchanged, and enforces its constraints, on both DBs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from quanzi.storage.db import session_factory
from quanzi.storage.orm import (
    Answer,
    ApiKey,
    Base,
    Circle,
    CircleApplication,
    CircleApplicationReview,
    ConsoleSession,
    IndexChange,
    Interaction,
    Item,
    Order,
    Post,
    PostEmbedding,
    PostScore,
    PostTopic,
    Question,
    QuestionInvite,
    RescoreBlock,
    RescoreRun,
    Topic,
    User,
)

BEIJING = timezone(timedelta(hours=8))
# An aware time off UTC, with microseconds: both must survive the round trip.
T0 = datetime(2025, 11, 11, 0, 0, 0, 123456, tzinfo=BEIJING)


def _columns(row: Any) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs}


def _build_world(f: Any) -> list[Any]:
    """One row in every table, every column set explicitly (nothing left to defaults)."""
    circle = f.circle(
        id="c-1",
        name="花西子官方圈",
        kind="brand",
        category="beauty",
        brand="花西子",
        description="东方彩妆 ✿ \"引号\" 'quote'",
        parent_id=None,
        item_id=None,
        created_at=T0,
    )
    merchant = f.user(
        id="m-1",
        kind="merchant",
        display_name="花西子旗舰店",
        follower_count=120_000,
        creator_certified=False,
        account_created_at=T0 - timedelta(days=800),
        merchant_circle_id="c-1",
        created_at=T0,
    )
    creator = f.user(
        id="u-1",
        kind="creator",
        display_name="小红",
        follower_count=5300,
        creator_certified=True,
        account_created_at=T0 - timedelta(days=30),
        merchant_circle_id=None,
        created_at=T0,
    )
    item = f.item(circle, id="i-1", title="空气蜜粉 8g", price=169.5, created_at=T0)
    order = f.order(creator, item, id="o-1", created_at=T0 + timedelta(hours=1))
    post = f.post(
        circle,
        creator,
        id="p-1",
        item_id="i-1",
        order_id="o-1",
        text="买了两周，控油效果不错😊\n第二行",
        image_count=3,
        status="pass",
        created_at=T0 + timedelta(days=3),
        updated_at=T0 + timedelta(days=4),
    )
    rows = [
        circle,
        merchant,
        creator,
        item,
        order,
        post,
        f.score(
            post,
            model_name="trust",
            model_version="7",
            score=0.875,
            label="L3",
            payload={"probs": [0.01, 0.04, 0.875], "why": "购后分享", "nested": {"a": None}},
            created_at=T0 + timedelta(days=5),
        ),
        f.interaction(
            merchant,
            post,
            kind="favourite",
            position=4,
            request_id="req-9",
            created_at=T0 + timedelta(days=6),
        ),
        f.user_relation(merchant, creator, "follow"),
        f.brand_relation(creator, circle, kind="past_buyer", active=False),
    ]
    collection = f.collection(
        circle,
        title="双11好物合集",
        description="编辑精选",
        status="published",
        created_by="editor-7",
        created_at=T0,
        updated_at=T0 + timedelta(days=1),
        published_at=T0 + timedelta(days=2),
    )
    review = f.review(
        post, reasons={"rules": ["外链"], "score": 0.61}, status="open", created_at=T0
    )
    rows += [
        collection,
        f.collection_item(collection, post, position=2, note="封面"),
        review,
        f.decision(
            review,
            editor="editor-7",
            decision="reject",
            labels=["ad", "外链"],
            reason="引流到站外",
            created_at=T0,
        ),
        f.rule(circle, term="加V", action="review"),
        f.override(
            post, action="boost", value=1.5, editor="editor-7", expires_at=T0 + timedelta(days=10)
        ),
        f._add(
            PostEmbedding(
                post_id="p-1",
                encoder_version="enc-7",
                dim=2,
                vector=b"\x00\x00\x80?\x00\x00\x00\x80",
                created_at=T0,
            )
        ),
        f._add(IndexChange(seq=41, post_id="p-gone", created_at=T0)),
        key := f._add(
            ApiKey(
                prefix="0a1b2c3d4e5f",
                salt="00" * 16,
                key_hash="ab" * 32,
                role="editor",
                name="编辑小王",
                revoked_at=T0 + timedelta(days=1),
                created_at=T0,
            )
        ),
        f._add(
            ConsoleSession(
                token_hash="cd" * 32,
                key_id=key.id,
                csrf_token="csrf-编辑",
                last_seen_at=T0 + timedelta(minutes=5),
                expires_at=T0 + timedelta(hours=4),
                created_at=T0,
            )
        ),
        application := f._add(
            CircleApplication(
                brand="花西子",
                facts={"weibo_fans": 1_200_000},
                eligible=True,
                results=[{"rule": "fan_base", "passed": True}],
                status="ops_review_pending",
                reviews_required=2,
                reviews_done=1,
                submitted_by="editor-7",
                created_at=T0,
            )
        ),
        run := f._add(
            RescoreRun(
                id="a" * 32,
                versions={"moderation": "3", "encoder": "quanzi-v2-onnx-int8"},
                selection={"circle_ids": ["c-美妆"], "only_stale": True},
                state="running",
                blocks=2,
                posts=1500,
                created_at=T0,
                finished_at=None,
            )
        ),
        f._add(
            RescoreBlock(
                run_id=run.id,
                block=1,
                lo="p-1000",
                hi=None,
                posts=500,
                done_posts=200,
                finished_at=T0 + timedelta(minutes=1),
            )
        ),
    ]
    rows.append(
        f._add(
            CircleApplicationReview(
                application_id=application.id,
                reviewer="运营-1",
                decision="pass",
                note="旗舰店核实",
                created_at=T0,
            )
        )
    )
    topic = f._add(
        Topic(
            circle_id="c-1",
            name="控油",
            status="active",
            source="editor",
            merged_into=None,
            edited=True,
            keywords=["控油", "出油"],
            updated_by="editor-7",
            created_at=T0,
        )
    )
    question = f._add(
        Question(
            id="q-1",
            circle_id="c-1",
            item_id="i-1",
            author_id="m-1",
            text="油皮用着会脱妆吗？",
            status="pass",
            moderation={"decision": "pass", "labels": []},
            created_at=T0 + timedelta(days=7),
            deleted_at=None,
        )
    )
    rows += [
        topic,
        f._add(
            PostTopic(
                post_id="p-1", topic_id=topic.id, source="assigned", score=0.75, created_at=T0
            )
        ),
        question,
        f._add(
            Answer(
                id="a-1",
                question_id="q-1",
                author_id="u-1",
                text="用了两周，下午才开始有点出油",
                status="pass",
                moderation={"decision": "pass"},
                non_answer=0.125,
                helpful_votes=4,
                created_at=T0 + timedelta(days=8),
            )
        ),
        f._add(
            QuestionInvite(
                question_id="q-1",
                user_id="u-1",
                rank=1,
                score=0.5,
                policy="model",
                created_at=T0 + timedelta(days=7),
            )
        ),
    ]
    return rows


def test_every_table_round_trips_unchanged(engine: Engine, session: Session, factory: Any) -> None:
    rows = _build_world(factory)
    session.commit()
    written = {
        (type(r), tuple(r.__mapper__.primary_key_from_instance(r))): _columns(r) for r in rows
    }
    assert {cls.__table__.name for cls, _ in written} == set(Base.metadata.tables), (
        "a table has no round-trip row: add one to _build_world"
    )
    with session_factory(engine)() as fresh:
        for (cls, pk), expected in written.items():
            stored = fresh.get(cls, pk)
            assert stored is not None, cls.__name__
            assert _columns(stored) == expected, cls.__name__


def test_datetimes_come_back_aware_in_utc(session: Session, factory: Any) -> None:
    circle = factory.circle(created_at=T0)
    session.commit()
    session.expunge_all()
    stored = session.get(Circle, circle.id)
    assert stored is not None
    assert stored.created_at == T0
    assert stored.created_at.tzinfo == UTC
    assert stored.created_at.hour == 16  # 00:00 in Beijing is 16:00 UTC the day before


def test_server_default_timestamps_are_aware_and_current(session: Session, factory: Any) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    circle = factory.circle()  # created_at comes from the database's clock
    session.commit()
    session.expunge_all()
    stored = session.get(Circle, circle.id)
    assert stored is not None
    assert stored.created_at.tzinfo == UTC
    assert before <= stored.created_at <= datetime.now(UTC) + timedelta(seconds=2)


def test_naive_datetime_is_refused(session: Session, factory: Any) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        factory.user(account_created_at=datetime(2025, 1, 1))


def test_time_comparisons_agree_across_offsets(session: Session, factory: Any) -> None:
    circle, author = factory.circle(), factory.user()
    factory.post(circle, author, id="early", created_at=datetime(2025, 1, 1, 9, tzinfo=BEIJING))
    factory.post(circle, author, id="late", created_at=datetime(2025, 1, 1, 2, tzinfo=UTC))
    session.commit()
    cutoff = datetime(2025, 1, 1, 1, 30, tzinfo=UTC)  # 01:00 UTC (early) < cutoff < 02:00 UTC
    later = session.scalars(select(Post.id).where(Post.created_at > cutoff)).all()
    assert later == ["late"]


@pytest.mark.parametrize(
    "make_duplicate",
    [
        pytest.param(lambda f, w: f.circle(id=w["circle"].id), id="circle-id"),
        pytest.param(lambda f, w: f.user_relation(w["a"], w["b"], "follow"), id="user-edge"),
        pytest.param(lambda f, w: f.brand_relation(w["a"], w["circle"], "fan"), id="brand-edge"),
        pytest.param(
            lambda f, w: f.score(w["post"], model_name="quality", model_version="1"),
            id="score-version",
        ),
        pytest.param(lambda f, w: f.rule(w["circle"], term="加微信"), id="rule-term"),
        pytest.param(lambda f, w: f.override(w["post"], action="remove"), id="override-post"),
        pytest.param(lambda f, w: f.review(w["post"]), id="review-post"),
        pytest.param(
            lambda f, w: f.collection_item(w["collection"], w["post"]), id="collection-item"
        ),
    ],
)
def test_unique_constraints_reject_duplicates(
    session: Session, factory: Any, make_duplicate: Callable[[Any, dict[str, Any]], Any]
) -> None:
    circle, a, b = factory.circle(), factory.user(), factory.user()
    post = factory.post(circle, a)
    collection = factory.collection(circle)
    factory.user_relation(a, b, "follow")
    factory.brand_relation(a, circle, "fan")
    factory.score(post, model_name="quality", model_version="1")
    factory.rule(circle, term="加微信")
    factory.override(post, action="pin")
    factory.review(post)
    factory.collection_item(collection, post)
    session.commit()
    session.expunge_all()  # the duplicate must reach the database, not the identity map
    world = {"circle": circle, "a": a, "b": b, "post": post, "collection": collection}
    with pytest.raises(IntegrityError):
        make_duplicate(factory, world)


@pytest.mark.parametrize(
    "make_invalid",
    [
        pytest.param(lambda f, w: f.user(kind="admin"), id="user-kind"),
        pytest.param(lambda f, w: f.user_relation(w["a"], w["b"], "blocks"), id="relation-kind"),
        pytest.param(lambda f, w: f.brand_relation(w["a"], w["circle"], "vip"), id="brand-kind"),
        pytest.param(lambda f, w: f.post(w["circle"], w["a"], status="hidden"), id="post-status"),
        pytest.param(
            lambda f, w: f.interaction(w["a"], w["post"], kind="poke"), id="interaction-kind"
        ),
        pytest.param(lambda f, w: f.collection(w["circle"], status="live"), id="collection"),
        pytest.param(lambda f, w: f.rule(w["circle"], action="mute"), id="rule-action"),
        pytest.param(lambda f, w: f.override(w["post"], action="bury"), id="override-action"),
        pytest.param(lambda f, w: f.post(Circle(id="no-such-circle"), w["a"]), id="fk-circle"),
        pytest.param(lambda f, w: f.interaction(User(id="ghost"), w["post"]), id="fk-user"),
    ],
)
def test_check_and_foreign_key_constraints_reject_bad_rows(
    session: Session, factory: Any, make_invalid: Callable[[Any, dict[str, Any]], Any]
) -> None:
    circle, a, b = factory.circle(), factory.user(), factory.user()
    post = factory.post(circle, a)
    session.commit()
    with pytest.raises(IntegrityError):
        make_invalid(factory, {"circle": circle, "a": a, "b": b, "post": post})


def _count(session: Session, model: type[Any]) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_deleting_a_circle_cascades_to_its_content(session: Session, factory: Any) -> None:
    _build_world(factory)
    factory.circle(id="c-2")
    session.commit()
    session.execute(delete(Circle).where(Circle.id == "c-1"))
    session.commit()
    session.expunge_all()
    for table in Base.metadata.sorted_tables:
        # index_changes is a log: it outlives deleted posts so that workers drop them too.
        # API keys, their console sessions, circle applications and rescore runs (and
        # their blocks) belong to no circle.
        if table.name in (
            "users",
            "user_relations",
            "index_changes",
            "api_keys",
            "console_sessions",
            "circle_applications",
            "rescore_runs",
            "rescore_blocks",
            "circle_application_reviews",
        ):
            continue
        n = session.execute(select(func.count()).select_from(table)).scalar_one()
        expected = 1 if table.name == "circles" else 0
        assert n == expected, f"{table.name} kept {n} rows after its circle was deleted"
    merchant = session.get(User, "m-1")
    assert merchant is not None and merchant.merchant_circle_id is None  # SET NULL
    assert _count(session, User) == 2


def test_deleting_a_user_removes_their_posts_and_actions(session: Session, factory: Any) -> None:
    circle, author, viewer = factory.circle(), factory.user(), factory.user()
    post = factory.post(circle, author)
    factory.interaction(viewer, post, kind="like")
    factory.friends(author, viewer)
    session.commit()
    session.execute(delete(User).where(User.id == author.id))
    session.commit()
    assert _count(session, Post) == 0
    assert _count(session, Interaction) == 0
    assert session.get(User, viewer.id) is not None


def test_deleting_an_item_or_order_keeps_the_post(session: Session, factory: Any) -> None:
    circle, author = factory.circle(), factory.user()
    item = factory.item(circle)
    order = factory.order(author, item)
    post = factory.post(circle, author, item_id=item.id, order_id=order.id)
    factory.score(post)
    session.commit()
    session.execute(delete(Order).where(Order.id == order.id))
    session.execute(delete(Item).where(Item.id == item.id))
    session.commit()
    session.expunge_all()
    stored = session.get(Post, post.id)
    assert stored is not None
    assert (stored.item_id, stored.order_id) == (None, None)
    assert _count(session, PostScore) == 1
