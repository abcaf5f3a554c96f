"""/v1/collections: CRUD, items (positions stay 1..n), publish rules, MMR suggestions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from quanzi.serving.api.deps import get_similar
from quanzi.serving.editorial.suggestion_neighbours import Neighbours

TEXTS = [
    "面霜用了一个月，保湿很好，冬天脸不干",
    "质地偏厚，夏天用有点闷，适合干皮",
    "味道淡淡的香味，擦完十分钟就吸收",
    "敏感肌用了两周没有泛红，比之前那款温和",
    "包装是泵头的，挤一下刚好一次的量",
    "价格偏贵，五十毫升要三百多，活动时买划算",
]


def banner_ready(f: Any, post: Any, tier: int = 3, level: str = "L3") -> Any:
    """Scores that put a post within the banner rules (or, with other values, below)."""
    f.score(post, model_name="quality", score=0.8, label=str(tier), payload={"tier": tier})
    f.score(post, model_name="trust", score=0.9, label=level, payload={"level": level})
    return post


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    other = f.circle(id="c-2")
    author = f.user(id="u-1")
    for i, text in enumerate(TEXTS, start=1):
        banner_ready(f, f.post(circle, author, id=f"p-{i}", text=text))
    banner_ready(f, f.post(circle, author, id="p-review", status="review"))
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
    cid = _create(
        api, editor, post_ids=["p-1", "p-review"], override_reason="先放着，审核通过再发"
    )["id"]
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


def _below_rules(f: Any) -> None:
    """Posts of c-1 that each miss one banner rule, and a cross-circle copy."""
    circle, author = f.circle(id="c-1"), f.user(id="u-9")
    other = f.user(id="u-8")
    banner_ready(f, f.post(circle, author, id="p-ok", text="洗发水用了三周，头皮不痒了"))
    banner_ready(f, f.post(circle, other, id="p-l4", text="专家说这款洗发水是今年最好"), level="L4")
    banner_ready(f, f.post(circle, other, id="p-tier1", text="挺好的挺好的"), tier=1)
    copy = f.post(circle, other, id="p-copy", text="这家酒店离西湖很近，早餐丰富")
    banner_ready(f, copy)
    f.score(
        copy,
        model_name="moderation",
        label="pass",
        payload={"decision": "pass", "labels": [], "near_duplicate_of": "p-hotel"},
    )
    banner_ready(f, f.post(circle, other, id="p-ok-dup", text="洗发水用了三周，头皮不痒了！"))


def test_collection_refuses_posts_below_the_banner_rules_without_an_override(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(_below_rules)
    editor = keys["editor"]
    cid = _create(api, editor, post_ids=["p-ok"])["id"]
    for pid, why in (
        ("p-l4", "trust L4 is not L2–L3"),
        ("p-tier1", "quality tier 1 is below tier 2"),
        ("p-copy", "a copy of p-hotel"),
        ("p-ok-dup", "a near-duplicate of p-ok"),
    ):
        response = api.post(
            f"/v1/collections/{cid}/items", headers=editor, json={"post_ids": [pid]}
        )
        assert response.status_code == 422, pid
        assert why in response.json()["detail"] and "override_reason" in response.json()["detail"]
    body = api.get(f"/v1/collections/{cid}", headers=editor).json()
    assert [i["post_id"] for i in body["items"]] == ["p-ok"]
    # An explicit override goes in, recorded with the editor and the reason; publishing
    # accepts it.
    added = api.post(
        f"/v1/collections/{cid}/items",
        headers=editor,
        json={"post_ids": ["p-l4"], "override_reason": "品牌方授权的专家测评，编辑核实过"},
    ).json()
    item = added["items"][-1]
    assert item["override_by"] == "editor-1"
    assert item["override_reason"] == "品牌方授权的专家测评，编辑核实过"
    assert added["items"][0]["override_by"] is None
    assert api.post(f"/v1/collections/{cid}/publish", headers=editor).status_code == 200


def test_publishing_refuses_an_item_below_the_rules_with_no_override(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(_below_rules)
    editor = keys["editor"]
    cid = _create(api, editor, post_ids=["p-ok"])["id"]

    def demote(f: Any) -> None:  # the trust model re-scores p-ok as publicity after it went in
        from datetime import UTC, datetime

        from quanzi.storage.orm import Post

        post = f.session.get(Post, "p-ok")
        later = datetime(2030, 1, 1, tzinfo=UTC)
        f.score(
            post,
            model_name="trust",
            model_version="2",
            label="L4",
            payload={"level": "L4"},
            created_at=later,
        )

    seed(demote)
    response = api.post(f"/v1/collections/{cid}/publish", headers=editor)
    assert response.status_code == 409
    assert "p-ok (trust L4 is not L2–L3)" in response.json()["detail"]
