"""GET /v1/banner/picks: L2–L3 only, tier ≥ 2, no near-duplicates, author cap, groups, roles."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

from quanzi.storage.orm import Circle

settings = sm.settings
world = sm.world

CREAM = "这款保湿面霜质地轻薄，冬天用脸不干，保湿效果能维持一整天，干皮姐妹可以放心入手"
LIPSTICK = "这支口红颜色很正很显白，薄涂厚涂都好看，持久度一般，吃完饭需要补一次妆"
POSTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("p-cream-creator", "u-creator", CREAM + "，推荐", {"item_id": "i-1"}),  # L2
    (
        "p-cream-user",
        "u-1",
        "保湿面霜用了一个月，冬天脸不干，质地轻薄好吸收，味道淡淡的，回购",
        {"item_id": "i-1"},
    ),  # L3
    ("p-cream-copy", "u-2", CREAM + "，推荐！", {}),  # near-copy of the creator's
    ("p-lip-1", "u-2", LIPSTICK, {}),
    ("p-lip-2", "u-2", LIPSTICK.replace("口红", "唇膏") + "，总体满意会回购的", {}),
    ("p-lip-3", "u-2", "唇釉颜色好看但是有点拔干，需要先涂润唇膏打底，持久度还不错的一款", {}),
    ("p-expert", "u-1", "专家说这款面霜的成分很安全，敏感肌也能放心用，皮肤科医生推荐的", {}),  # L4
    ("p-short", "u-1", "面霜不错", {}),  # tier 0
]


@pytest.fixture
def posted(api: TestClient, keys: dict, world: dict, seed: Any) -> dict[str, dict[str, Any]]:
    seed(lambda f: f.user(id="u-2"))
    sm.use_models(api, sm.fake_loader())
    batch = {
        "posts": [
            {"id": pid, "circle_id": "c-beauty", "author_id": author, "text": text, **extra}
            for pid, author, text, extra in POSTS
        ]
    }
    response = api.post("/v1/posts", headers=keys["ingest"], json=batch)
    assert response.status_code == 200, response.text
    return {r["post_id"]: r for r in response.json()["results"]}


def _picks(api: TestClient, keys: dict, **params: Any) -> Any:
    return api.get(
        "/v1/banner/picks", headers=keys["editor"], params={"circle_id": "c-beauty", **params}
    )


def test_banner_picks_only_trusted_good_posts_without_copies(
    api: TestClient, keys: dict, posted: dict
) -> None:
    assert posted["p-cream-copy"]["near_duplicate_of"] == "p-cream-creator"
    response = _picks(api, keys, limit=10, per_author=5)
    assert response.status_code == 200, response.text
    body = response.json()
    picked = [p for g in body["groups"] for p in g["posts"]]
    ids = {p["post_id"] for p in picked}
    assert "p-expert" not in ids  # L4
    assert "p-short" not in ids  # tier 0
    assert "p-cream-copy" not in ids  # near-duplicate (flagged at ingest: review, not pass)
    assert {p["trust_level"] for p in picked} <= {"L2", "L3"}
    assert all(p["tier"] >= 2 for p in picked)
    assert {"p-cream-creator", "p-cream-user", "p-lip-1"} <= ids
    assert body["count"] == len(picked)


def test_author_cap_limits_picks_per_author(api: TestClient, keys: dict, posted: dict) -> None:
    body = _picks(api, keys, limit=10, per_author=1).json()
    authors = [p["author_id"] for g in body["groups"] for p in g["posts"]]
    assert len(authors) == len(set(authors))
    assert body["dropped"].get("author_cap", 0) >= 1


def test_near_identical_passed_posts_keep_only_the_better(
    api: TestClient, keys: dict, world: dict, seed: Any
) -> None:
    """Posts stored without ingest (e.g. a loaded world) are de-duplicated at pick time."""

    def build(f: Any) -> None:
        circle = f.session.get(Circle, "c-beauty")
        author = f.user(id="u-3")
        for pid, quality in (("p-a", 0.9), ("p-b", 0.8), ("p-c", 0.7)):
            text = LIPSTICK if pid != "p-c" else CREAM
            post = f.post(circle, author, id=pid, text=text, status="pass")
            f.score(
                post,
                model_name="quality",
                score=quality,
                label="3",
                payload={"score": quality, "tier": 3},
            )
            f.score(
                post,
                model_name="trust",
                score=0.8,
                label="L3",
                payload={"level": "L3", "probs": {"L3": 0.8}, "reasons": []},
            )

    seed(build)
    sm.use_models(api, sm.fake_loader())
    body = _picks(api, keys, limit=10, per_author=5).json()
    ids = [p["post_id"] for g in body["groups"] for p in g["posts"]]
    assert sorted(ids) == ["p-a", "p-c"]  # p-b repeats the better p-a
    assert body["dropped"] == {"near_duplicate": 1}
    assert body["eligible"] == 3


def test_picks_are_grouped_by_topic_with_titles(api: TestClient, keys: dict, posted: dict) -> None:
    body = _picks(api, keys, limit=10, per_author=5, groups=2).json()
    assert len(body["groups"]) == 2
    by_group = [{p["post_id"] for p in g["posts"]} for g in body["groups"]]
    creams = {"p-cream-creator", "p-cream-user"}
    assert any(creams <= g for g in by_group)
    cream_group = next(g for g in body["groups"] if creams <= {p["post_id"] for p in g["posts"]})
    assert cream_group["title"].startswith("保湿面霜：")  # most posts are about item i-1
    assert all(g["title"] and g["terms"] for g in body["groups"])


def test_unknown_circle_is_404(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    response = api.get("/v1/banner/picks", headers=keys["editor"], params={"circle_id": "c-ghost"})
    assert response.status_code == 404
    assert "c-ghost" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({}, "circle_id"),
        ({"circle_id": "c-beauty", "limit": 0}, "limit"),
        ({"circle_id": "c-beauty", "limit": 101}, "limit"),
        ({"circle_id": "c-beauty", "min_tier": 1}, "min_tier"),
        ({"circle_id": "c-beauty", "per_author": 0}, "per_author"),
        ({"circle_id": "c-beauty", "colour": "red"}, "colour"),
    ],
)
def test_bad_banner_queries_are_422(
    api: TestClient, keys: dict, world: dict, params: dict, where: str
) -> None:
    response = api.get("/v1/banner/picks", headers=keys["editor"], params=params)
    assert response.status_code == 422
    assert where in response.text


def test_banner_is_for_editors(api: TestClient, keys: dict, world: dict) -> None:
    params = {"circle_id": "c-beauty"}
    assert api.get("/v1/banner/picks", params=params).status_code == 401
    response = api.get("/v1/banner/picks", headers=keys["feed-service"], params=params)
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
