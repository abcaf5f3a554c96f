"""Each circle kind's own feed rule: an industry feed spreads brands (no brand above
``SCOPED_BRAND_SHARE`` of the first page), an interest feed shows only its topics' posts,
the topic filter keeps one topic's posts."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from quanzi.serving.app import create_app
from quanzi.serving.feed_service import SCOPED_BRAND_SHARE
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.orm import PostTopic, Topic

URL = "/v1/feed/rank"


def _world(f: Any) -> dict:
    f.circle(id="ind", kind="industry", category="数码", brand="")
    big = f.circle(id="c-big", parent_id="ind")
    small = f.circle(id="c-small", parent_id="ind")
    f.circle(id="int", kind="interest", category="兴趣", brand="")
    f.user(id="v")
    post_circle = {}
    for i in range(12):  # the big brand has many more fresh posts
        p = f.post(big, f.user(id=f"a{i}"), id=f"pb{i}")
        post_circle[p.id] = "c-big"
    for i in range(3):
        p = f.post(small, f.user(id=f"s{i}"), id=f"ps{i}")
        post_circle[p.id] = "c-small"
    f._add(Topic(id=1, circle_id="int", name="续航", status="active", source="tag"))
    f._add(Topic(id=2, circle_id="c-big", name="拍照", status="active", source="tag"))
    f.session.flush()
    for pid, tid in (("pb1", 1), ("ps2", 1), ("pb3", 2), ("pb4", 2)):
        f._add(PostTopic(post_id=pid, topic_id=tid, source="tag", created_at=f.tick()))
    return {
        "as_of": (f.tick() + timedelta(hours=1)).isoformat(),
        "key": {"Authorization": f"Bearer {create_key(f.session, 'feed-service')[1]}"},
        "circle_of": post_circle,
    }


def _rank(api: TestClient, w: dict, **body: Any) -> list[str]:
    r = api.post(URL, headers=w["key"], json={"viewer_id": "v", "as_of": w["as_of"], **body})
    assert r.status_code == 200, r.text
    return [i["post_id"] for i in r.json()["items"]]


def test_industry_feed_spreads_brands_on_the_first_page(settings: Settings, seed: Any) -> None:
    w = seed(_world)
    with TestClient(create_app(settings)) as api:
        page = _rank(api, w, circle_id="ind", limit=5)
        plain = _rank(api, w, circle_id="c-big", limit=5)
    assert page and plain
    per_brand: dict[str, int] = {}
    for pid in page:
        per_brand[w["circle_of"][pid]] = per_brand.get(w["circle_of"][pid], 0) + 1
    assert max(per_brand.values()) <= math.ceil(SCOPED_BRAND_SHARE * 5)
    assert set(per_brand) == {"c-big", "c-small"}


def test_interest_feed_and_topic_filter(settings: Settings, seed: Any) -> None:
    w = seed(_world)
    with TestClient(create_app(settings)) as api:
        assert set(_rank(api, w, circle_id="int", limit=10)) == {"pb1", "ps2"}
        assert set(_rank(api, w, circle_id="c-big", limit=10, topic_id=2)) == {"pb3", "pb4"}
