"""POST /v1/similar: neighbours by post or text, filters inside the search, MMR, roles."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

settings = sm.settings
world = sm.world

CREAM = "这款保湿面霜质地轻薄，冬天用脸不干，保湿一整天"
POSTS = [
    ("p-cream-1", "c-beauty", CREAM),
    ("p-cream-2", "c-beauty", CREAM + "，回购第三瓶了"),  # similar, not a copy
    ("p-cream-3", "c-beauty", "保湿面霜冬天用很舒服，质地轻薄不油腻"),
    ("p-lip", "c-beauty", "口红颜色很正，显白，持久度一般要补妆"),
    ("p-short", "c-beauty", "保湿面霜不错"),  # low quality (short)
    ("p-phone", "c-phone", CREAM),  # same text, other circle
    ("p-ad", "c-beauty", "保湿面霜进店领优惠券，优惠券，优惠券"),  # rejected: not indexed
]


@pytest.fixture
def indexed(api: TestClient, keys: dict, world: dict) -> dict[str, Any]:
    sm.use_models(api, sm.fake_loader())
    batch = {
        "posts": [{"id": pid, "circle_id": c, "author_id": "u-1", "text": t} for pid, c, t in POSTS]
    }
    results = api.post("/v1/posts", headers=keys["ingest"], json=batch).json()["results"]
    statuses = {r["post_id"]: r["status"] for r in results}
    assert statuses["p-ad"] == "reject"
    sm.wait_indexed(api, [pid for pid, s in statuses.items() if s != "reject"])
    return statuses


def _similar(api: TestClient, keys: dict, **body: Any) -> Any:
    return api.post("/v1/similar", headers=keys["editor"], json=body)


def test_similar_by_post_id_excludes_the_post_and_other_circles(
    api: TestClient, keys: dict, indexed: dict
) -> None:
    response = _similar(
        api, keys, post_id="p-cream-1", k=10, circle_id="c-beauty", statuses=["pass", "review"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ids = [item["post_id"] for item in body["items"]]
    assert ids[0] == "p-cream-2"
    assert "p-cream-1" not in ids and "p-phone" not in ids and "p-ad" not in ids
    sims = [item["similarity"] for item in body["items"]]
    assert sims == sorted(sims, reverse=True)
    assert body["encoder_version"] == "hash-256"
    assert body["items"][0]["text"].startswith(CREAM)


def test_similar_by_text_without_circle_reaches_every_circle(
    api: TestClient, keys: dict, indexed: dict
) -> None:
    body = _similar(api, keys, text=CREAM, k=3, statuses=["pass", "review"]).json()
    ids = {item["post_id"] for item in body["items"]}
    assert {"p-cream-1", "p-phone"} <= ids
    assert body["items"][0]["similarity"] == pytest.approx(1.0, abs=1e-5)


def test_filters_apply_inside_the_search(api: TestClient, keys: dict, indexed: dict) -> None:
    # min_quality drops the short post; exclude_ids drops one; k is still filled if possible.
    body = _similar(
        api,
        keys,
        text=CREAM,
        k=3,
        circle_id="c-beauty",
        min_quality=0.25,
        exclude_ids=["p-cream-1"],
        statuses=["pass", "review"],
    ).json()
    ids = [item["post_id"] for item in body["items"]]
    assert len(ids) == 3
    assert "p-short" not in ids and "p-cream-1" not in ids
    assert all(item["quality"] >= 0.25 for item in body["items"])
    # Only passed posts by default: the near-copies went to review.
    reviewed = {pid for pid, s in indexed.items() if s == "review"}
    default = _similar(api, keys, text=CREAM, k=10).json()["items"]
    assert not reviewed & {item["post_id"] for item in default}


def test_diversity_trades_similarity_for_variety(
    api: TestClient, keys: dict, indexed: dict
) -> None:
    plain = _similar(
        api, keys, text=CREAM, k=2, circle_id="c-beauty", statuses=["pass", "review"]
    ).json()["items"]
    diverse = _similar(
        api, keys, text=CREAM, k=2, circle_id="c-beauty", statuses=["pass", "review"], diversity=0.9
    ).json()["items"]
    assert plain[0]["post_id"] == diverse[0]["post_id"]
    assert plain[1]["post_id"] != diverse[1]["post_id"]
    assert diverse[1]["similarity"] < plain[1]["similarity"]


def test_collection_suggestions_come_from_the_index(
    api: TestClient, keys: dict, indexed: dict
) -> None:
    created = api.post(
        "/v1/collections",
        headers=keys["editor"],
        json={"circle_id": "c-beauty", "title": "冬季保湿"},
    )
    assert created.status_code in (200, 201), created.text
    cid = created.json()["id"]
    api.post(
        f"/v1/collections/{cid}/items",
        headers=keys["editor"],
        json={"post_ids": ["p-cream-1"], "override_reason": "短评也要，测试用"},
    ).raise_for_status()
    suggestions = api.get(
        f"/v1/collections/{cid}/suggestions",
        headers=keys["editor"],
        params={"k": 2, "diversity": 0},
    )
    assert suggestions.status_code == 200, suggestions.text
    data = suggestions.json()["data"]
    assert data[0]["post_id"] == "p-cream-2"
    assert data[0]["text"].startswith(CREAM) and data[0]["author_id"] == "u-1"
    assert data[0]["trust_level"] and data[0]["tier"] is not None
    assert isinstance(data[0]["below_banner_rules"], list)
    # Relevance is the index's: ¾ cosine to the seed + ¼ quality (the fallback mixes ½ ½).
    hit = _similar(api, keys, post_id="p-cream-1", k=1, circle_id="c-beauty").json()["items"][0]
    assert data[0]["relevance"] == pytest.approx(
        0.75 * hit["similarity"] + 0.25 * hit["quality"], abs=1e-4
    )


def test_unknown_post_is_404(api: TestClient, keys: dict, indexed: dict) -> None:
    response = _similar(api, keys, post_id="p-ghost")
    assert response.status_code == 404
    assert "p-ghost" in response.json()["detail"]


def test_without_an_encoder_similar_is_503_saying_why(
    api: TestClient, keys: dict, world: dict
) -> None:
    def no_encoder(settings: Any) -> Any:
        loaded = sm.fake_loader()(settings)
        loaded.embedder, loaded.encoder_version = None, None
        loaded.degraded["encoder"] = "FileNotFoundError: the default encoder is missing"
        return loaded

    sm.use_models(api, no_encoder)
    response = _similar(api, keys, text=CREAM)
    assert response.status_code == 503
    assert "encoder" in response.json()["detail"] and "QUANZI_ENCODER" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "exactly one"),
        ({"post_id": "p-1", "text": "好"}, "exactly one"),
        ({"text": "好", "k": 0}, "k"),
        ({"text": "好", "k": 101}, "k"),
        ({"text": "好", "diversity": 1.5}, "diversity"),
        ({"text": "好", "min_quality": -1}, "min_quality"),
        ({"text": "好", "statuses": ["reject"]}, "statuses"),
        ({"text": "好", "exclude_ids": ["x"] * 1001}, "exclude_ids"),
        ({"text": "好", "neighbours": 3}, "neighbours"),
    ],
)
def test_bad_similar_requests_are_422(
    api: TestClient, keys: dict, world: dict, body: dict, where: str
) -> None:
    response = api.post("/v1/similar", headers=keys["editor"], json=body)
    assert response.status_code == 422
    assert where in response.text


def test_similar_roles(api: TestClient, keys: dict, world: dict) -> None:
    assert api.post("/v1/similar", json={"text": "好"}).status_code == 401
    response = api.post("/v1/similar", headers=keys["ingest"], json={"text": "好"})
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
