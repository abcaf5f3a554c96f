"""POST /v1/moderate: stateless decision with labels and spans, circle rules, roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm
from sqlalchemy import func, select

from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.orm import Post

settings = sm.settings
world = sm.world


def test_moderate_returns_decision_labels_spans_and_version(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader("3"))
    text = "你这个傻子，进店领优惠券"
    response = api.post("/v1/moderate", headers=keys["ingest"], json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] == "reject"
    labels = {e["label"]: e for e in body["labels"]}
    assert set(labels) == {"ad", "offensive"}
    span = labels["offensive"]["spans"][0]
    assert text[span["start"] : span["end"]] == "傻"
    assert body["model_versions"] == {"moderation": "3"}
    engine = engine_from_settings(settings)
    with engine.connect() as conn:  # stateless: nothing stored
        assert conn.execute(select(func.count()).select_from(Post)).scalar_one() == 0
    engine.dispose()


def test_clean_look_alikes_pass(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    for text in ("V领毛衣很好看", "微信支付很方便", "客服QQ音乐会员送了吗"):
        body = api.post("/v1/moderate", headers=keys["editor"], json={"text": text}).json()
        assert body["decision"] == "pass", (text, body)


def test_circle_terms_apply_only_when_that_circle_is_named(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.put(
        "/v1/circles/c-beauty/rules",
        headers=keys["editor"],
        json={"blocked": [], "review": ["平替"]},
    ).raise_for_status()
    text = "这是大牌平替"
    plain = api.post("/v1/moderate", headers=keys["feed-service"], json={"text": text}).json()
    assert plain["decision"] == "pass"
    ruled = api.post(
        "/v1/moderate", headers=keys["feed-service"], json={"text": text, "circle_id": "c-beauty"}
    ).json()
    assert ruled["decision"] == "review"
    assert ruled["labels"][0]["label"] == "circle_rule"
    other = api.post(
        "/v1/moderate", headers=keys["feed-service"], json={"text": text, "circle_id": "c-phone"}
    ).json()
    assert other["decision"] == "pass"


def test_without_a_model_the_detectors_still_reject_contact_details(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader(with_models=False))
    body = api.post(
        "/v1/moderate", headers=keys["ingest"], json={"text": "加我薇信 abc_12345 领福利"}
    ).json()
    assert body["decision"] == "reject"
    assert body["labels"][0]["label"] == "contact"
    assert body["model_versions"] == {"moderation": "rules"}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "  \n"}, "should match pattern"),  # blank: nothing but whitespace
        ({"text": "好" * 20_001}, "text"),
        ({"text": "好", "lang": "zh"}, "lang"),
    ],
)
def test_bad_moderation_requests_are_422(
    api: TestClient, keys: dict, world: dict, body: dict, where: str
) -> None:
    sm.use_models(api, sm.fake_loader())
    response = api.post("/v1/moderate", headers=keys["ingest"], json=body)
    assert response.status_code == 422
    assert where in response.text


def test_an_unknown_circle_is_404(api: TestClient, keys: dict, world: dict) -> None:
    sm.use_models(api, sm.fake_loader())
    body = {"text": "好", "circle_id": "c-ghost"}
    response = api.post("/v1/moderate", headers=keys["ingest"], json=body)
    assert response.status_code == 404 and "c-ghost" in response.json()["detail"]


def test_moderate_needs_a_key_of_an_allowed_role(api: TestClient, keys: dict, world: dict) -> None:
    assert api.post("/v1/moderate", json={"text": "好"}).status_code == 401
    assert (
        api.post(
            "/v1/moderate", headers={"Authorization": "Bearer nope"}, json={"text": "好"}
        ).status_code
        == 401
    )
    # Every role may moderate a text (ingest, feed-service, editor; admin passes all).
    sm.use_models(api, sm.fake_loader())
    for role in ("ingest", "feed-service", "editor", "admin"):
        assert api.post("/v1/moderate", headers=keys[role], json={"text": "好"}).status_code == 200
