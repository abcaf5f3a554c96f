"""/v1/collections: CRUD, items (positions stay 1..n), publish rules, MMR suggestions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from quanzi.serving.api.deps import get_similar
from quanzi.serving.editorial.suggestion_neighbours import Neighbours


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    other = f.circle(id="c-2")
    author = f.user(id="u-1")
    for i in range(1, 7):
        f.post(circle, author, id=f"p-{i}", text=f"面霜用了一个月，保湿很好 第{i}篇")
    f.post(circle, author, id="p-review", status="review")
    f.post(other, author, id="p-other")


@pytest.fixture
def editor(api: TestClient, keys: dict, seed: Any) -> dict[str, str]:
    seed(_world)
    return keys["editor"]


def _create(api: TestClient, headers: dict, **body: Any) -> dict:
    response = api.post(
        "/v1/collections", headers=headers, json={"circle_id": "c-1", "title": "秋冬保湿", **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _order(body: dict) -> list[tuple[str, int]]:
    return [(i["post_id"], i["position"]) for i in body["items"]]


def test_create_read_update_delete(api: TestClient, editor: dict) -> None:
    created = _create(api, editor, post_ids=["p-2", "p-1"], description="编辑精选")
    assert created["status"] == "draft" and created["created_by"] == "editor-1"
    assert _order(created) == [("p-2", 1), ("p-1", 2)]
    cid = created["id"]
    assert api.get(f"/v1/collections/{cid}", headers=editor).json() == created
    patched = api.patch(f"/v1/collections/{cid}", headers=editor, json={"title": "新标题"})
    assert patched.json()["title"] == "新标题" and patched.json()["description"] == "编辑精选"
    listed = api.get("/v1/collections?circle_id=c-1", headers=editor).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == cid
    assert api.delete(f"/v1/collections/{cid}", headers=editor).status_code == 204
    assert api.get(f"/v1/collections/{cid}", headers=editor).status_code == 404


def test_items_add_remove_reorder_keep_positions_contiguous(api: TestClient, editor: dict) -> None:
    cid = _create(api, editor, post_ids=["p-1", "p-2"])["id"]
    body = api.post(
        f"/v1/collections/{cid}/items",
        headers=editor,
        json={"post_ids": ["p-3", "p-4"], "position": 2, "note": "补充"},
    ).json()
    assert _order(body) == [("p-1", 1), ("p-3", 2), ("p-4", 3), ("p-2", 4)]
    assert body["items"][1]["note"] == "补充"
    body = api.delete(f"/v1/collections/{cid}/items/p-3", headers=editor).json()
    assert _order(body) == [("p-1", 1), ("p-4", 2), ("p-2", 3)]
    body = api.put(
        f"/v1/collections/{cid}/items", headers=editor, json={"post_ids": ["p-2", "p-1", "p-4"]}
    ).json()
    assert _order(body) == [("p-2", 1), ("p-1", 2), ("p-4", 3)]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", "/items", {"post_ids": ["p-1"]}, 409, "already in collection"),
        ("post", "/items", {"post_ids": ["p-404"]}, 404, "unknown posts: p-404"),
        ("post", "/items", {"post_ids": ["p-other"]}, 409, "posts not in circle 'c-1': p-other"),
        ("post", "/items", {"post_ids": ["p-3"], "position": 9}, 409, "use 1..3"),
        ("post", "/items", {"post_ids": ["p-3", "p-3"]}, 422, "post ids repeat: p-3"),
        ("put", "/items", {"post_ids": ["p-1"]}, 409, "missing p-2"),
        ("put", "/items", {"post_ids": ["p-1", "p-2", "p-5"]}, 409, "not in the collection p-5"),
        ("delete", "/items/p-5", None, 404, "post 'p-5' is not in collection"),
        ("patch", "", {}, 422, "give `title` and/or `description`"),
        ("patch", "", {"title": ""}, 422, "at least 1 character"),
    ],
)
def test_bad_item_changes_say_what_is_wrong(
    api: TestClient, editor: dict, method: str, path: str, body: Any, status: int, message: str
) -> None:
    cid = _create(api, editor, post_ids=["p-1", "p-2"])["id"]
    kwargs = {"json": body} if body is not None else {}
    response = api.request(method.upper(), f"/v1/collections/{cid}{path}", headers=editor, **kwargs)
    assert response.status_code == status
    assert message in str(response.json()["detail"])


def test_create_in_unknown_circle_is_404(api: TestClient, editor: dict) -> None:
    response = api.post(
        "/v1/collections", headers=editor, json={"circle_id": "c-404", "title": "x"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "circle 'c-404' not found", "code": "not_found"}


def test_publish_needs_items_that_all_passed(api: TestClient, editor: dict) -> None:
    empty = _create(api, editor)["id"]
    response = api.post(f"/v1/collections/{empty}/publish", headers=editor)
    assert response.status_code == 409 and "is empty" in response.json()["detail"]
    cid = _create(api, editor, post_ids=["p-1", "p-review"])["id"]
    response = api.post(f"/v1/collections/{cid}/publish", headers=editor)
    assert response.status_code == 409
    assert "p-review (review)" in response.json()["detail"]
    api.delete(f"/v1/collections/{cid}/items/p-review", headers=editor)
    published = api.post(f"/v1/collections/{cid}/publish", headers=editor).json()
    assert published["status"] == "published" and published["published_at"]
    again = api.post(f"/v1/collections/{cid}/publish", headers=editor).json()
    assert again["published_at"] == published["published_at"]
    response = api.post(
        f"/v1/collections/{cid}/items", headers=editor, json={"post_ids": ["p-review"]}
    )
    assert response.status_code == 409
    response = api.delete(f"/v1/collections/{cid}/items/p-1", headers=editor)
    assert response.status_code == 409 and "cannot become empty" in response.json()["detail"]


def test_suggestions_use_the_injected_search_and_diversify(api: TestClient, editor: dict) -> None:
    cid = _create(api, editor, post_ids=["p-1"])["id"]
    calls: list[dict] = []

    def fake(
        session: Any, *, circle_id: str, seed_ids: Any, k: int, exclude_ids: Any
    ) -> Neighbours:
        calls.append({"circle_id": circle_id, "seed_ids": list(seed_ids)})
        # p-2 and p-3 are near-duplicates and the two most relevant; p-4 is different.
        vectors = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
        return Neighbours(
            post_ids=["p-2", "p-3", "p-4", "p-1"],
            relevance=np.array([0.9, 0.89, 0.5, 1.0]),
            vectors=vectors,
        )

    api.app.dependency_overrides[get_similar] = lambda: fake
    plain = api.get(f"/v1/collections/{cid}/suggestions?k=2&diversity=0", headers=editor)
    diverse = api.get(f"/v1/collections/{cid}/suggestions?k=2&diversity=0.7", headers=editor)
    assert calls[0] == {"circle_id": "c-1", "seed_ids": ["p-1"]}
    assert [s["post_id"] for s in plain.json()["data"]] == ["p-2", "p-3"]  # p-1 is a seed
    assert [s["post_id"] for s in diverse.json()["data"]] == ["p-2", "p-4"]


def test_fallback_suggestions_rank_passed_posts_of_the_circle(
    api: TestClient, editor: dict
) -> None:
    cid = _create(api, editor, post_ids=["p-1"])["id"]
    response = api.get(f"/v1/collections/{cid}/suggestions?k=3", headers=editor)
    assert response.status_code == 200
    ids = [s["post_id"] for s in response.json()["data"]]
    assert len(ids) == 3 and not {"p-1", "p-review", "p-other"} & set(ids)
    response = api.get(f"/v1/collections/{cid}/suggestions?k=0", headers=editor)
    assert response.status_code == 422


ROUTES = [
    ("get", "/v1/collections"),
    ("post", "/v1/collections"),
    ("get", "/v1/collections/1"),
    ("patch", "/v1/collections/1"),
    ("delete", "/v1/collections/1"),
    ("post", "/v1/collections/1/items"),
    ("put", "/v1/collections/1/items"),
    ("delete", "/v1/collections/1/items/p-1"),
    ("get", "/v1/collections/1/suggestions"),
    ("post", "/v1/collections/1/publish"),
]


def test_collections_need_an_editor_key(api: TestClient, keys: dict) -> None:
    for method, path in ROUTES:
        assert api.request(method.upper(), path).status_code == 401, path
        for role in ("feed-service", "ingest"):
            response = api.request(method.upper(), path, headers=keys[role])
            assert response.status_code == 403, (path, role)
