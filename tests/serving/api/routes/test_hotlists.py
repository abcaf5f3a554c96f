"""/v1/hotlists: ranked list for the feed service and editors; overrides by editors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

NOW = datetime.now(UTC)


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    f.circle(id="c-2")
    viewer = f.user(id="v-1")
    for i, likes in enumerate([1, 3, 2], start=1):
        post = f.post(circle, viewer, id=f"p-{i}")
        for _ in range(likes):
            f.interaction(viewer, post, "like", created_at=NOW - timedelta(hours=1))


def test_hotlist_ranks_by_heat_and_applies_overrides(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(_world)
    feed, editor = keys["feed-service"], keys["editor"]
    body = api.get("/v1/hotlists/c-1", headers=feed).json()
    assert [i["post_id"] for i in body["items"]] == ["p-2", "p-3", "p-1"]
    assert body["decay_hours"] == 24.0 and body["items"][0]["rank"] == 1

    pin = api.post(
        "/v1/hotlists/c-1/overrides",
        headers=editor,
        json={
            "post_id": "p-1",
            "action": "pin",
            "value": 1,
            "expires_at": (NOW + timedelta(days=1)).isoformat(),
        },
    )
    assert pin.status_code == 201 and pin.json()["editor"] == "editor-1"
    api.post(
        "/v1/hotlists/c-1/overrides", headers=editor, json={"post_id": "p-2", "action": "remove"}
    )
    body = api.get("/v1/hotlists/c-1?limit=5", headers=editor).json()
    assert [(i["post_id"], (i["override"] or {}).get("action")) for i in body["items"]] == [
        ("p-1", "pin"),
        ("p-3", None),
    ]
    listed = api.get("/v1/hotlists/c-1/overrides", headers=editor).json()
    assert {o["post_id"] for o in listed["data"]} == {"p-1", "p-2"}

    assert api.delete("/v1/hotlists/c-1/overrides/p-2", headers=editor).status_code == 204
    assert api.delete("/v1/hotlists/c-1/overrides/p-2", headers=editor).status_code == 404
    body = api.get("/v1/hotlists/c-1", headers=feed).json()
    assert [i["post_id"] for i in body["items"]] == ["p-1", "p-2", "p-3"]


def test_hotlist_as_of_a_past_instant(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    at = (NOW - timedelta(days=2)).isoformat()
    body = api.get("/v1/hotlists/c-1", params={"at": at}, headers=keys["feed-service"]).json()
    assert body["items"] == []  # nothing had happened yet


def test_bad_hotlist_requests_say_why(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    editor = keys["editor"]
    cases = [
        (api.get("/v1/hotlists/c-404", headers=editor), 404, "circle 'c-404' not found"),
        (api.get("/v1/hotlists/c-1?limit=0", headers=editor), 422, "greater than or equal"),
        (api.get("/v1/hotlists/c-1?at=2025-01-01T00:00:00", headers=editor), 422, "timezone"),
        (
            api.post(
                "/v1/hotlists/c-1/overrides",
                headers=editor,
                json={"post_id": "p-1", "action": "star"},
            ),
            422,
            "pin",
        ),
        (
            api.post(
                "/v1/hotlists/c-1/overrides",
                headers=editor,
                json={"post_id": "p-1", "action": "boost", "value": 1000},
            ),
            422,
            "multiplier",
        ),
        (
            api.post(
                "/v1/hotlists/c-2/overrides",
                headers=editor,
                json={"post_id": "p-1", "action": "remove"},
            ),
            404,
            "is not in circle 'c-2' (it belongs to 'c-1')",
        ),
        (
            api.post(
                "/v1/hotlists/c-1/overrides",
                headers=editor,
                json={"post_id": "p-9", "action": "remove"},
            ),
            404,
            "post 'p-9' not found",
        ),
        (
            api.post(
                "/v1/hotlists/c-1/overrides",
                headers=editor,
                json={
                    "post_id": "p-1",
                    "action": "pin",
                    "value": 1,
                    "expires_at": "2020-01-01T00:00:00Z",
                },
            ),
            409,
            "in the past",
        ),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in str(response.json()["detail"])


def test_hotlist_roles(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    assert api.get("/v1/hotlists/c-1").status_code == 401
    assert api.get("/v1/hotlists/c-1", headers=keys["ingest"]).status_code == 403
    for role in ("feed-service", "editor", "admin"):
        assert api.get("/v1/hotlists/c-1", headers=keys[role]).status_code == 200
    for method, path in [
        ("get", "/v1/hotlists/c-1/overrides"),
        ("post", "/v1/hotlists/c-1/overrides"),
        ("delete", "/v1/hotlists/c-1/overrides/p-1"),
    ]:
        assert api.request(method.upper(), path).status_code == 401
        assert api.request(method.upper(), path, headers=keys["feed-service"]).status_code == 403


def _guarded(f: Any) -> None:
    """A hot post, a rejected one, one in review, and a cross-circle copy that passed."""
    circle = f.circle(id="c-1")
    viewer, author = f.user(id="v-1"), f.user(id="u-1")
    posts = {
        "p-hot": f.post(circle, author, id="p-hot", text="洗发水用了三周，头皮不痒了"),
        "p-rejected": f.post(circle, author, id="p-rejected", status="reject"),
        "p-review": f.post(circle, author, id="p-review", status="review"),
        "p-copy": f.post(circle, author, id="p-copy", text="这家酒店离西湖很近"),
    }
    f.score(posts["p-hot"], model_name="quality", label="3", payload={"tier": 3}, score=0.9)
    f.score(posts["p-hot"], model_name="trust", label="L3", payload={"level": "L3"}, score=0.8)
    f.score(
        posts["p-copy"],
        model_name="moderation",
        label="pass",
        payload={"decision": "pass", "labels": [], "near_duplicate_of": "p-hotel-review"},
    )
    for post in posts.values():
        for _ in range(3):
            f.interaction(viewer, post, "like", created_at=NOW - timedelta(hours=1))


def test_hotlist_never_pins_unpassed_posts_nor_lists_copies(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(_guarded)
    editor = keys["editor"]
    for pid, status in (("p-rejected", "reject"), ("p-review", "review")):
        response = api.post(
            "/v1/hotlists/c-1/overrides",
            headers=editor,
            json={"post_id": pid, "action": "pin", "value": 1},
        )
        assert response.status_code == 409, pid
        assert f"is {status}" in response.json()["detail"]
    response = api.post(
        "/v1/hotlists/c-1/overrides",
        headers=editor,
        json={"post_id": "p-copy", "action": "pin", "value": 1},
    )
    assert response.status_code == 409 and "copy" in response.json()["detail"]
    body = api.get("/v1/hotlists/c-1", headers=editor).json()
    assert [i["post_id"] for i in body["items"]] == ["p-hot"]  # the copy passed, but is out
    item = body["items"][0]
    assert item["text"] == "洗发水用了三周，头皮不痒了" and item["author_id"] == "u-1"
    assert (item["tier"], item["trust_level"]) == (3, "L3")
