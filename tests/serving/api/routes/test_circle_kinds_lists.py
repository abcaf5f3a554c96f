"""Hot lists and banner candidates for every circle kind: an industry circle lists its
member brands' posts, an interest circle its topics' posts, a SKU Q&A circle no posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from quanzi.storage.orm import PostTopic, Topic

NOW = datetime.now(UTC)


def _world(f: Any) -> None:
    f.circle(id="ind", kind="industry", category="数码", brand="")
    a, b = f.circle(id="c-a", parent_id="ind"), f.circle(id="c-b", parent_id="ind")
    other = f.circle(id="c-other")
    f.circle(id="int", kind="interest", category="兴趣", brand="")
    f.circle(id="qa", kind="sku_qa", parent_id="c-a")
    u = f.user(id="u-1")
    posts = {
        "pa": f.post(a, u, id="pa"),
        "pb": f.post(b, u, id="pb"),
        "po": f.post(other, u, id="po"),
    }
    for p in posts.values():
        f.interaction(u, p, "like", created_at=NOW - timedelta(hours=1))
    f._add(Topic(id=1, circle_id="int", name="续航", status="active", source="tag"))
    f.session.flush()
    f._add(PostTopic(post_id="po", topic_id=1, source="tag", created_at=NOW))


def _listed(api: TestClient, keys: dict, circle: str) -> set[str]:
    r = api.get(f"/v1/hotlists/{circle}", headers=keys["editor"])
    assert r.status_code == 200, r.text
    return {i["post_id"] for i in r.json()["items"]}


def test_hot_lists_follow_each_kind(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    assert _listed(api, keys, "ind") == {"pa", "pb"}
    assert _listed(api, keys, "int") == {"po"}
    assert _listed(api, keys, "qa") == set()
    assert _listed(api, keys, "c-a") == {"pa"}
    # an industry circle's editor may pin a member brand's post, not an outsider's
    ok = api.post(
        "/v1/hotlists/ind/overrides",
        headers=keys["editor"],
        json={"post_id": "pb", "action": "pin", "value": 1},
    )
    assert ok.status_code == 201
    bad = api.post(
        "/v1/hotlists/ind/overrides",
        headers=keys["editor"],
        json={"post_id": "po", "action": "pin", "value": 1},
    )
    # issue 15's error rule: a post out of the hot list's circle is not found there
    assert bad.status_code == 404, bad.text
    assert "is not in circle 'ind' (it belongs to 'c-other')" in bad.json()["detail"]


def test_banner_candidates_answer_for_every_kind(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    for circle in ("ind", "int", "qa", "c-a"):
        r = api.get(f"/v1/banner/picks?circle_id={circle}", headers=keys["editor"])
        assert r.status_code == 200, (circle, r.text)
