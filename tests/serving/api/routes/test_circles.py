"""GET /v1/circles, /v1/circles/{id}, /v1/circles/{id}/posts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def _world(f: Any) -> None:
    beauty = f.circle(id="beauty-1", name="花西子官方圈", category="beauty", brand="花西子")
    f.circle(id="food-1", category="food")
    author = f.user(id="u-1")
    for i in range(5):
        f.post(beauty, author, id=f"p-{i}", status="reject" if i == 4 else "pass")


def test_list_circles_returns_counts_and_total(seed: Any, client: TestClient) -> None:
    seed(_world)
    body = client.get("/v1/circles").json()
    assert body["count"] == 2
    assert [(c["id"], c["post_count"]) for c in body["data"]] == [("beauty-1", 5), ("food-1", 0)]
    body = client.get("/v1/circles", params={"category": "food"}).json()
    assert [c["id"] for c in body["data"]] == ["food-1"]


def test_read_circle(seed: Any, client: TestClient) -> None:
    seed(_world)
    body = client.get("/v1/circles/beauty-1").json()
    assert body["name"] == "花西子官方圈"
    assert body["brand"] == "花西子"
    assert body["post_count"] == 5
    assert body["created_at"].endswith(("Z", "+00:00"))


def test_unknown_circle_is_404_with_its_id(seed: Any, client: TestClient) -> None:
    seed(_world)
    for path in ("/v1/circles/nope", "/v1/circles/nope/posts"):
        response = client.get(path)
        assert response.status_code == 404
        assert "'nope'" in response.json()["detail"]


def test_circle_posts_page_through_newest_first(seed: Any, client: TestClient) -> None:
    seed(_world)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(5):
        body = client.get("/v1/circles/beauty-1/posts", params=params).json()
        seen += [p["id"] for p in body["data"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == ["p-4", "p-3", "p-2", "p-1", "p-0"]


def test_circle_posts_filter_by_status(seed: Any, client: TestClient) -> None:
    seed(_world)
    body = client.get(
        "/v1/circles/beauty-1/posts", params=[("status", "reject"), ("status", "review")]
    ).json()
    assert [p["id"] for p in body["data"]] == ["p-4"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/circles", {"limit": 0}),
        ("/v1/circles", {"limit": 201}),
        ("/v1/circles", {"limit": "many"}),
        ("/v1/circles", {"offset": -1}),
        ("/v1/circles", {"colour": "red"}),
        ("/v1/circles/beauty-1/posts", {"limit": 1000}),
        ("/v1/circles/beauty-1/posts", {"status": "hidden"}),
        ("/v1/circles/beauty-1/posts", {"cursor": "not/a cursor"}),  # not its alphabet
        ("/v1/circles/" + "x" * 65, {}),
    ],
)
def test_bad_parameters_are_422_with_a_reason(
    seed: Any, client: TestClient, path: str, params: dict[str, Any]
) -> None:
    seed(_world)
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_a_cursor_this_service_did_not_issue_is_404(seed: Any, client: TestClient) -> None:
    seed(_world)
    response = client.get("/v1/circles/beauty-1/posts", params={"cursor": "garbage"})
    assert response.status_code == 404
    assert "cursor is not one this service issued" in response.json()["detail"]
