"""GET /v1/posts/{id}."""

from __future__ import annotations

from typing import Any, get_args

from fastapi.testclient import TestClient

from quanzi.serving.api.schemas.posts import PostStatus
from quanzi.storage.orm import POST_STATUSES


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    buyer = f.user(id="buyer")
    item = f.item(circle, id="i-1")
    order = f.order(buyer, item, id="o-1")
    post = f.post(
        circle,
        buyer,
        id="p-1",
        item_id="i-1",
        order_id=order.id,
        text="回购第三次了 👍",
        image_count=2,
    )
    f.score(post, model_name="quality", model_version="1", score=0.3)
    f.score(
        post, model_name="quality", model_version="2", score=0.8, payload={"rubric": {"具体": 2}}
    )
    f.score(post, model_name="trust", model_version="1", score=None, label="L3")


def test_read_post_with_latest_scores_and_provenance(seed: Any, client: TestClient) -> None:
    seed(_world)
    response = client.get("/v1/posts/p-1")
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "回购第三次了 👍"
    assert body["image_count"] == 2
    assert body["verified_purchase"] is True
    assert [
        (s["model_name"], s["model_version"], s["score"], s["label"]) for s in body["scores"]
    ] == [("quality", "2", 0.8, None), ("trust", "1", None, "L3")]
    assert body["scores"][0]["payload"] == {"rubric": {"具体": 2}}


def test_unknown_post_is_404(seed: Any, client: TestClient) -> None:
    seed(_world)
    response = client.get("/v1/posts/p-404")
    assert response.status_code == 404
    assert response.json() == {"detail": "post 'p-404' not found", "code": "not_found"}


def test_api_post_statuses_match_the_store() -> None:
    assert set(get_args(PostStatus)) == set(POST_STATUSES)
