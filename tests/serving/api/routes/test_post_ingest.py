"""POST /v1/posts: store, moderate, score, embed, index, near-duplicates, idempotency, roles."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm
from sqlalchemy import func, select

from quanzi.models.moderation.policy import decide, detector_moderation
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.orm import IndexChange, Post, PostEmbedding, PostScore, ReviewItem

REVIEW = "用了两周，保湿效果很好，冬天脸不干，味道淡淡的，分量也足，推荐干皮姐妹入手"


settings = sm.settings  # fast index sync
world = sm.world


def _post(pid: str, text: str = REVIEW, **kw: Any) -> dict[str, Any]:
    return {"id": pid, "circle_id": "c-beauty", "author_id": "u-1", "text": text, **kw}


def _count(settings: Settings, model: Any, **where: Any) -> int:
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_ingest_one_post_stores_scores_embeds_and_indexes_it(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader("7"))
    response = api.post(
        "/v1/posts", headers=keys["ingest"], json=_post("p-1", item_id="i-1", order_id="o-1")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["stored"], body["replayed"]) == (1, 0)
    result = body["results"][0]
    assert result["post_id"] == "p-1" and result["status"] == "pass"
    assert result["moderation"] == {"decision": "pass", "labels": []}
    assert result["quality"] == {"score": round(len(REVIEW) / 60, 4), "tier": 2}
    assert result["trust"]["level"] == "L3"
    assert "verified_purchase=True" in result["trust"]["reasons"]
    assert result["near_duplicate_of"] is None
    assert result["model_versions"] == {
        "moderation": "7",
        "quality": "7",
        "trust": "7",
        "encoder": "hash-256",
    }
    # Stored exactly as written, one score row per model, a vector, a change-log entry.
    assert _count(settings, PostScore, post_id="p-1") == 4  # + the content type
    assert _count(settings, PostEmbedding, post_id="p-1") == 1
    assert _count(settings, IndexChange, post_id="p-1") == 1
    stored = api.get("/v1/posts/p-1", headers=keys["editor"]).json()
    assert stored["text"] == REVIEW and stored["verified_purchase"] is True
    assert {s["model_name"]: s["model_version"] for s in stored["scores"]} == {
        "moderation": "7",
        "quality": "7",
        "trust": "7",
        "content_type": "rules-v1",
    }
    sm.wait_indexed(api, ["p-1"])


def test_trust_sees_the_authors_history(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    first = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).json()
    second = api.post(
        "/v1/posts", headers=keys["ingest"], json=_post("p-2", "换了一款口红，颜色很正")
    ).json()
    assert "post_count=0" in first["results"][0]["trust"]["reasons"]
    assert "post_count=1" in second["results"][0]["trust"]["reasons"]


def test_ingest_is_idempotent_by_post_id(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    first = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).json()
    again = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).json()
    assert (again["stored"], again["replayed"]) == (0, 1)
    assert again["results"][0]["replayed"] is True
    strip = [
        {k: v for k, v in r.items() if k != "replayed"}
        for r in (first, again)
        for r in r["results"]
    ]
    assert strip[0] == strip[1]
    assert _count(settings, Post) == 1 and _count(settings, PostScore) == 4
    assert _count(settings, PostEmbedding) == 1


def test_same_id_with_other_text_is_409(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    assert api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).status_code == 200
    response = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1", "改过的文字"))
    assert response.status_code == 409
    assert "p-1" in response.json()["detail"] and "new id" in response.json()["detail"]


def test_batch_moderates_each_post_and_queues_reviews(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    batch = {
        "posts": [
            _post("p-ok"),
            _post("p-ad", "进店领优惠券，优惠券，优惠券！"),
            _post("p-soft", "这款面霜进店可以试用，质地很轻薄好推开"),
            _post("p-contact", "想要的加我微信 abc12345 私聊"),
        ]
    }
    response = api.post("/v1/posts", headers=keys["feed-service"], json=batch)
    assert response.status_code == 200, response.text
    results = {r["post_id"]: r for r in response.json()["results"]}
    assert [r["post_id"] for r in response.json()["results"]] == [p["id"] for p in batch["posts"]]
    assert results["p-ok"]["status"] == "pass"
    assert results["p-ad"]["status"] == "reject"
    assert results["p-ad"]["trust"]["level"] == "L5"
    # quality-rubric.md: what moderation rejects is tier 0, whatever the text's length
    assert results["p-ad"]["quality"]["tier"] == 0
    assert results["p-ad"]["quality"]["model_tier"] != 0
    assert api.get("/v1/posts/p-ad", headers=keys["editor"]).status_code == 200
    assert results["p-ok"]["quality"]["tier"] == 2 and results["p-ok"]["content_type"] == "usage"
    assert results["p-soft"]["status"] == "review"
    assert _count(settings, ReviewItem, post_id="p-soft") == 1
    assert _count(settings, ReviewItem) == 1
    review = api.get("/v1/review", headers=keys["editor"]).json()["data"]
    assert review[0]["post_id"] == "p-soft"
    assert review[0]["reasons"]["labels"][0]["label"] == "ad"


def test_circle_rules_apply_only_to_their_circle(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    api.put(
        "/v1/circles/c-beauty/rules",
        headers=keys["editor"],
        json={"blocked": ["代购"], "review": ["平替"]},
    ).raise_for_status()
    batch = {
        "posts": [
            _post("p-1", "找代购买的，包装完整，用着不错"),
            _post("p-2", "这是大牌平替，效果差不多，用了一个月"),
            {**_post("p-3", "找代购买的手机，屏幕很清楚，续航一天"), "circle_id": "c-phone"},
        ]
    }
    results = api.post("/v1/posts", headers=keys["ingest"], json=batch).json()["results"]
    assert [r["status"] for r in results] == ["reject", "review", "pass"]
    rule = next(e for e in results[0]["moderation"]["labels"] if e["label"] == "circle_rule")
    assert rule["band"] == "reject"
    span = rule["spans"][0]
    assert batch["posts"][0]["text"][span["start"] : span["end"]] == "代购"


def test_near_duplicate_in_any_circle_is_flagged_and_sent_to_review(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.post("/v1/posts", headers=keys["ingest"], json=_post("p-orig")).raise_for_status()
    sm.wait_indexed(api, ["p-orig"])
    copy = api.post(
        "/v1/posts", headers=keys["ingest"], json=_post("p-copy", REVIEW + "！")
    ).json()["results"][0]
    assert copy["near_duplicate_of"] == "p-orig"
    assert copy["status"] == "review"
    # Copy-paste across circles (搬运) is caught the same way: the index is searched whole.
    other_circle = api.post(
        "/v1/posts", headers=keys["ingest"], json={**_post("p-elsewhere"), "circle_id": "c-phone"}
    ).json()["results"][0]
    assert other_circle["near_duplicate_of"] == "p-orig"
    assert other_circle["status"] == "review"
    fresh = api.post(
        "/v1/posts",
        headers=keys["ingest"],
        json={**_post("p-own", "手机屏幕很清楚，电池一天一充，拍照偏暗"), "circle_id": "c-phone"},
    ).json()["results"][0]
    assert fresh["near_duplicate_of"] is None


def test_a_stock_phrase_posted_again_elsewhere_is_not_a_copy(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.post(
        "/v1/posts", headers=keys["ingest"], json=_post("p-stock", "差评！！！")
    ).raise_for_status()
    sm.wait_indexed(api, ["p-stock"])
    again = api.post(
        "/v1/posts",
        headers=keys["ingest"],
        json={**_post("p-stock-2", "差评！！！！"), "circle_id": "c-phone"},  # cosine 0.98
    ).json()["results"][0]
    assert again["near_duplicate_of"] is None  # many buyers write it: nobody's copy


def test_near_duplicates_within_one_batch_point_to_the_first(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    batch = {"posts": [_post("p-a"), _post("p-b", REVIEW + "。"), _post("p-c", "完全不同的一段话")]}
    results = api.post("/v1/posts", headers=keys["ingest"], json=batch).json()["results"]
    assert [r["near_duplicate_of"] for r in results] == [None, "p-a", None]


class VectorQuality:
    """A quality model on the encoder's vectors: score = the vector's first component."""

    name = "quanzi-quality"
    uses_vectors = True

    def predict(self, records: list[dict[str, Any]], vectors: Any = None) -> list[dict[str, Any]]:
        assert vectors is not None, "ingest must hand in the vectors it made for the index"
        return [{"score": round(float(v[0]), 4), "tier": 1} for v in vectors]


def test_ingest_runs_the_encoder_once_for_index_and_quality(
    api: TestClient, keys: dict, world: dict
) -> None:
    embedder = sm.HashEmbedder()
    fake = sm.fake_loader(embedder=embedder)
    sm.use_models(
        api,
        lambda s: replace(fake(s), predictors={**fake(s).predictors, "quality": VectorQuality()}),
    )
    texts = [REVIEW, "完全不同的一段话", "物流很快，包装完好"]
    batch = {"posts": [_post(f"p-{i}", t) for i, t in enumerate(texts)]}
    results = api.post("/v1/posts", headers=keys["ingest"], json=batch).json()["results"]
    assert embedder.calls == 1  # one pass for the batch: index, copies and quality
    expected = sm.HashEmbedder()(texts)[:, 0]
    assert [r["quality"]["score"] for r in results] == [round(float(v), 4) for v in expected]


def test_a_copy_ingested_before_the_index_syncs_is_still_caught(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).raise_for_status()
    # No wait for the sync thread: the worker's recent-ingest buffer answers.
    result = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-2", REVIEW + "~")).json()[
        "results"
    ][0]
    assert result["near_duplicate_of"] == "p-1"


def test_without_champions_moderation_falls_back_to_detectors(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader(with_models=False))
    batch = {"posts": [_post("p-1"), _post("p-2", "有问题加我微信 abc12345 私聊")]}
    response = api.post("/v1/posts", headers=keys["ingest"], json=batch)
    assert response.status_code == 200, response.text
    ok, contact = response.json()["results"]
    assert ok["status"] == "pass" and ok["quality"] is None and ok["trust"] is None
    assert ok["model_versions"] == {
        "moderation": "rules",
        "quality": "unavailable",
        "trust": "unavailable",
        "encoder": "hash-256",
    }
    assert contact["status"] == "reject"
    label = contact["moderation"]["labels"][0]
    assert label["label"] == "contact" and label["band"] == "reject"
    assert "abc12345" in label["spans"][0]["text"]
    assert _count(settings, PostScore) == 4  # moderation and content-type rows only
    ready = api.get("/readyz").json()
    assert {d["model"] for d in ready["degraded"]} == {"moderation", "quality", "trust"}


def test_unknown_references_are_404_listing_every_one(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    batch = {
        "posts": [
            _post("p-1", author_id="u-ghost"),
            {**_post("p-2"), "circle_id": "c-ghost", "item_id": "i-ghost"},
        ]
    }
    response = api.post("/v1/posts", headers=keys["ingest"], json=batch)
    assert response.status_code == 404
    detail = response.json()["detail"]
    for missing in ("u-ghost", "c-ghost", "i-ghost"):
        assert missing in detail
    assert "POST /v1/users" in detail


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"id": "p-1", "circle_id": "c-beauty", "author_id": "u-1"}, "text"),
        ({**_post("p-1"), "text": "   "}, "text"),
        ({**_post("p-1"), "colour": "red"}, "colour"),
        ({**_post("p-1"), "created_at": "2025-01-01T00:00:00"}, "created_at"),
        ({"posts": []}, "posts"),
        ({"posts": [_post(f"p-{i}") for i in range(501)]}, "posts"),
    ],
)
def test_bad_posts_are_422_naming_the_field(
    api: TestClient, keys: dict, world: dict, body: dict, where: str
) -> None:
    response = api.post("/v1/posts", headers=keys["ingest"], json=body)
    assert response.status_code == 422
    assert where in response.text


def test_a_repeated_post_is_stored_once_and_a_future_time_taken_as_now(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    future = {**_post("p-9", text=REVIEW + "！"), "created_at": "2999-01-01T00:00:00Z"}
    body = {"posts": [_post("p-1"), _post("p-1"), future]}
    response = api.post("/v1/posts", headers=keys["ingest"], json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert [r["replayed"] for r in out["results"]] == [False, True, False]
    assert (out["stored"], out["replayed"]) == (2, 1)
    assert _count(settings, Post) == 2
    stored = api.get("/v1/posts/p-9", headers=keys["ingest"]).json()["created_at"]
    assert stored < "2100"  # taken as now


def test_a_post_id_repeated_with_other_content_is_409(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    body = {"posts": [_post("p-1"), _post("p-1", text=REVIEW + "，补充")]}
    response = api.post("/v1/posts", headers=keys["ingest"], json=body)
    assert response.status_code == 409 and "different content" in response.json()["detail"]


def test_ingest_needs_an_ingest_or_feed_key(api: TestClient, keys: dict, world: dict) -> None:
    assert api.post("/v1/posts", json=_post("p-1")).status_code == 401
    response = api.post("/v1/posts", headers=keys["editor"], json=_post("p-1"))
    assert response.status_code == 403
    assert "ingest" in response.json()["detail"]


ONE_POLICY_TEXTS = (
    "面霜很好用，更多测评在小红薯搜我同名",  # a useful review with a diversion tail
    "兼✖职✖日✖结，动动手指就有钱",  # fraud, obfuscated
    "客服是个煞笔吧",  # an insult by sound
    "V领毛衣很显瘦，微信支付也方便",  # a look-alike that must pass
    "有兴趣的踢我一下",  # weak evidence: review
)


@pytest.mark.parametrize("with_models", [True, False])
def test_one_decision_point_on_every_path(
    api: TestClient, keys: dict, world: dict, with_models: bool
) -> None:
    """/v1/moderate, single-post ingest and the policy applied to the models' answers
    (what `quanzi score`, backfill and rescore call) decide every text the same way,
    with and without a moderation champion (the rules then decide alone)."""
    loader = sm.fake_loader(with_models=with_models)
    sm.use_models(api, loader)
    predictor = loader(Settings()).predictors["moderation"]
    for n, text in enumerate(ONE_POLICY_TEXTS):
        answer = predictor.predict([{"text": text}])[0] if predictor is not None else None
        expected = decide(answer, text, ())["decision"]
        moderated = api.post("/v1/moderate", headers=keys["ingest"], json={"text": text}).json()
        ingested = api.post(
            "/v1/posts", headers=keys["ingest"], json=_post(f"p-policy-{n}", text)
        ).json()["results"][0]
        assert moderated["decision"] == expected == ingested["moderation"]["decision"], text
    rules_only = [detector_moderation(t)["decision"] for t in ONE_POLICY_TEXTS]
    assert rules_only == ["reject", "reject", "reject", "pass", "review"]
