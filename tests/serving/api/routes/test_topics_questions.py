"""/v1/topics and /v1/questions: editors' topic operations, Q&A, and bad input refused
with a clear 4xx that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.db import session_factory as make_sessions
from quanzi.storage.orm import Answer, Circle, PostTopic, Question, Topic

NOW = datetime.now(UTC)


def _world(f: Any) -> None:
    brand = f.circle(id="c-1", kind="brand")
    f.circle(id="c-qa", kind="sku_qa", parent_id="c-1", item_id="i-1")
    asker, buyer = f.user(id="u-1"), f.user(id="u-2")
    item = f.item(brand, id="i-1")
    f.order(buyer, item, id="o-1", created_at=NOW - timedelta(days=30))
    for i in range(4):
        f.post(brand, buyer, id=f"p-{i}", created_at=NOW - timedelta(hours=i))
    for name in ("续航", "拍照"):
        f._add(Topic(circle_id="c-1", name=name, status="active", source="tag"))
    f.session.flush()
    f._add(PostTopic(post_id="p-0", topic_id=1, source="tag", created_at=NOW))
    f._add(PostTopic(post_id="p-1", topic_id=2, source="tag", created_at=NOW))
    f._add(PostTopic(post_id="p-2", topic_id=1, source="tag", created_at=NOW))
    del asker


@pytest.fixture
def session_factory(settings: Settings) -> Any:
    engine = engine_from_settings(settings)
    yield make_sessions(engine)
    engine.dispose()


def _count(session_factory: Any, model: Any) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_topics_list_rename_hide_merge(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    editor = keys["editor"]
    topics = api.get("/v1/topics?circle_id=c-1", headers=editor).json()
    assert [(t["name"], t["post_count"]) for t in topics] == [("续航", 2), ("拍照", 1)]
    renamed = api.patch("/v1/topics/2", headers=editor, json={"name": "影像"}).json()
    assert renamed["name"] == "影像" and renamed["edited"] is True
    merged = api.post("/v1/topics/2/merge", headers=editor, json={"into": 1}).json()
    assert merged["id"] == 1
    posts = api.get("/v1/topics/1/posts", headers=editor).json()
    assert {p["post_id"] for p in posts} == {"p-0", "p-1", "p-2"}
    api.patch("/v1/topics/1", headers=editor, json={"hidden": True})
    assert api.get("/v1/topics?circle_id=c-1", headers=editor).json() == []


def test_topic_bad_input_is_refused_and_changes_nothing(
    api: TestClient, keys: dict, seed: Any, session_factory: Any
) -> None:
    seed(_world)
    editor = keys["editor"]
    before = api.get("/v1/topics?circle_id=c-1&include_hidden=true", headers=editor).json()
    r = api.post("/v1/topics/1/merge", headers=editor, json={"into": 1})
    assert r.status_code == 409 and "itself" in r.json()["detail"]  # schema-valid: not 422
    r = api.post("/v1/topics", headers=editor, json={"circle_id": "c-1", "name": "长" * 10_000})
    assert r.status_code == 422
    r = api.patch("/v1/topics/1", headers=editor, json={"name": "#" * 10_000})
    assert r.status_code == 422
    r = api.post("/v1/topics", headers=editor, json={"circle_id": "c-1", "name": "##"})
    assert r.status_code == 422 and "name" in r.json()["detail"]  # the schema says what a name is
    assert api.get("/v1/topics?circle_id=c-1&include_hidden=true", headers=editor).json() == before


def test_trending_ranks_by_smoothed_burst(api: TestClient, keys: dict, seed: Any) -> None:
    def world(f: Any) -> None:
        c = f.circle(id="c-1")
        u = f.user(id="u-1")
        f._add(Topic(circle_id="c-1", name="steady", status="active", source="tag"))
        f._add(Topic(circle_id="c-1", name="burst", status="active", source="tag"))
        f._add(Topic(circle_id="c-1", name="tiny", status="active", source="tag"))
        f.session.flush()
        n = 0

        def post(tid: int, hours: float) -> None:
            nonlocal n
            n += 1
            p = f.post(c, u, id=f"p-{n}", created_at=NOW - timedelta(hours=hours))
            f._add(PostTopic(post_id=p.id, topic_id=tid, source="tag", created_at=p.created_at))

        for h in range(24, 24 * 8, 6):  # steady: 4 a day for a week, 4 today
            post(1, h)
        for h in range(4):
            post(1, h + 0.5)
        for h in range(30):  # burst: 30 today, 2 before
            post(2, h * 0.5 + 0.1)
        post(2, 48)
        post(2, 72)
        for h in range(3):  # tiny: 3 today, none before
            post(3, h + 0.2)

    seed(world)
    body = api.get("/v1/topics/trending?circle_id=c-1", headers=keys["editor"]).json()
    assert body[0]["topic"]["name"] == "burst"
    tiny = next(t for t in body if t["topic"]["name"] == "tiny")
    burst = body[0]
    assert tiny["burst"] < burst["burst"] and tiny["recent"] == 3
    assert burst["recent"] == 30 and burst["baseline"] == 2 and sum(burst["windows"]) >= 30


def test_question_bad_input_is_refused_and_changes_nothing(
    api: TestClient, keys: dict, seed: Any, session_factory: Any
) -> None:
    seed(_world)
    ingest = keys["ingest"]
    r = api.post(
        "/v1/questions",
        headers=ingest,
        json={"circle_id": "c-1", "item_id": "i-nope", "author_id": "u-1", "text": "续航如何？"},
    )
    assert r.status_code == 404 and "SKU" in r.json()["detail"]
    r = api.post(
        "/v1/questions",
        headers=ingest,
        json={"circle_id": "c-qa", "item_id": "i-2", "author_id": "u-1", "text": "续航如何？"},
    )
    assert r.status_code == 404
    assert _count(session_factory, Question) == 0
    ok = api.post(
        "/v1/questions",
        headers=ingest,
        json={
            "id": "q-1",
            "circle_id": "c-qa",
            "item_id": "i-1",
            "author_id": "u-1",
            "text": "续航怎么样？",
        },
    )
    assert ok.status_code == 201, ok.text
    assert [i["user_id"] for i in ok.json()["invitees"]] == ["u-2"]  # the SKU's buyer
    assert api.delete("/v1/questions/q-1", headers=ingest).status_code == 200
    r = api.post(
        "/v1/questions/q-1/answers", headers=ingest, json={"author_id": "u-2", "text": "一天一充"}
    )
    assert r.status_code == 404 and "deleted" in r.json()["detail"]
    assert _count(session_factory, Answer) == 0


def test_answers_come_back_friends_first(api: TestClient, keys: dict, seed: Any) -> None:
    def world(f: Any) -> None:
        _world(f)
        viewer = f.user(id="v-1")
        friend = f.user(id="u-3")
        f.friends(viewer, friend)

    seed(world)
    ingest = keys["ingest"]
    api.post(
        "/v1/questions",
        headers=ingest,
        json={
            "id": "q-1",
            "circle_id": "c-1",
            "item_id": "i-1",
            "author_id": "u-1",
            "text": "续航怎么样？",
        },
    )
    api.post(
        "/v1/questions/q-1/answers",
        headers=ingest,
        json={"id": "a-1", "author_id": "u-2", "text": "重度使用一天一充，待机很省电"},
    )
    api.post(
        "/v1/questions/q-1/answers",
        headers=ingest,
        json={"id": "a-2", "author_id": "u-3", "text": "还行，电池够用一天"},
    )
    body = api.get("/v1/questions/q-1?viewer_id=v-1", headers=keys["editor"]).json()
    assert body["answers"][0]["answer_id"] == "a-2"
    assert body["answers"][0]["friend"] is True


def test_ingest_links_tags_from_text_and_field_and_refuses_a_huge_tag(
    api: TestClient, keys: dict, seed: Any, session_factory: Any
) -> None:
    seed(_world)
    ingest = keys["ingest"]
    post = {
        "id": "p-new",
        "circle_id": "c-1",
        "author_id": "u-1",
        "text": "#续航#一天一充 #新话题#",
    }
    bad = api.post("/v1/posts", headers=ingest, json={**post, "topics": ["长" * 10_000]})
    assert bad.status_code == 422 and "topics" in bad.text
    assert _count(session_factory, PostTopic) == 3  # nothing written
    ok = api.post("/v1/posts", headers=ingest, json={**post, "topics": ["拍照"]})
    assert ok.status_code in (200, 201), ok.text
    with session_factory() as s:
        names = set(
            s.scalars(
                select(Topic.name)
                .join(PostTopic, PostTopic.topic_id == Topic.id)
                .where(PostTopic.post_id == "p-new")
            )
        )
    assert names == {"续航", "拍照", "新话题"}


def test_moderation_runs_on_questions_and_answers(api: TestClient, keys: dict, seed: Any) -> None:
    def world(f: Any) -> None:
        _world(f)
        f.rule(f.session.get(Circle, "c-1"), term="代购", action="block")

    seed(world)
    ingest = keys["ingest"]
    spam = api.post(
        "/v1/questions",
        headers=ingest,
        json={
            "circle_id": "c-qa",
            "item_id": "i-1",
            "author_id": "u-1",
            "text": "想要便宜的加我微信 wx12345678 私聊",
        },
    ).json()
    assert spam["question"]["status"] == "reject" and spam["invitees"] == []
    # the SKU Q&A circle obeys its brand circle's own rules
    api.post(
        "/v1/questions",
        headers=ingest,
        json={
            "id": "q-ok",
            "circle_id": "c-qa",
            "item_id": "i-1",
            "author_id": "u-1",
            "text": "续航怎么样？",
        },
    )
    answer = api.post(
        "/v1/questions/q-ok/answers",
        headers=ingest,
        json={"author_id": "u-2", "text": "找我代购更便宜"},
    ).json()
    assert answer["status"] == "reject"
