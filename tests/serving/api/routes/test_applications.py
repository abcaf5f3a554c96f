"""/v1/circles/applications: rule-by-rule admission, stored, two operations reviews pending."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from quanzi.storage.api_keys import create_key

BRAND_CIRCLE = "c_brand_key"  # the brand-manager key's circle (tests/serving/api/conftest.py)
ELIGIBLE = {
    "brand": "花西子",
    "has_tmall_flagship": True,
    "well_known": True,
    "weibo_fans": 1_200_000,
    "wechat_fans": 5_000,
}


def test_eligible_application_waits_for_two_reviews(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: None)
    response = api.post("/v1/circles/applications", headers=keys["editor"], json=ELIGIBLE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["eligible"] is True and body["status"] == "ops_review_pending"
    assert body["ops_reviews"] == {"required": 2, "done": 0, "pending": 2}
    fan = body["rules"][2]
    assert fan["rule"] == "fan_base" and fan["passed"]
    assert {c["channel"]: c["passed"] for c in fan["channels"]} == {
        "weibo_fans": True,
        "wechat_fans": False,
        "community_users": False,
        "weitao_fans": False,
        "tieba_members": False,
    }
    stored = api.get(f"/v1/circles/applications/{body['id']}", headers=keys["admin"])
    assert stored.json() == body


def test_ineligible_application_lists_the_failed_rules(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(lambda f: None)
    body = api.post(
        "/v1/circles/applications",
        headers=keys["admin"],
        json={**ELIGIBLE, "has_tmall_flagship": False, "weibo_fans": 49_999},
    ).json()
    assert body["eligible"] is False and body["status"] == "ineligible"
    assert [r["passed"] for r in body["rules"]] == [False, True, False]
    assert body["ops_reviews"]["pending"] == 0


def test_bad_applications_say_why(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: None)
    editor = keys["editor"]
    for body, message in [
        ({**ELIGIBLE, "weibo_fans": -1}, "greater than or equal to 0"),
        ({**ELIGIBLE, "brand": ""}, "at least 1 character"),
        ({"brand": "x"}, "Field required"),
        ({**ELIGIBLE, "douyin_fans": 5}, "Extra inputs"),
    ]:
        response = api.post("/v1/circles/applications", headers=editor, json=body)
        assert response.status_code == 422 and message in str(response.json()["detail"])
    response = api.get("/v1/circles/applications/77", headers=editor)
    assert response.status_code == 404
    assert response.json() == {"detail": "circle application 77 not found", "code": "not_found"}


def test_applications_need_an_editor_or_admin_key(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: None)
    assert api.post("/v1/circles/applications", json=ELIGIBLE).status_code == 401
    for role in ("feed-service", "ingest"):
        assert (
            api.post("/v1/circles/applications", headers=keys[role], json=ELIGIBLE).status_code
            == 403
        )
        assert api.get("/v1/circles/applications/1", headers=keys[role]).status_code == 403


def _apply(api: TestClient, keys: dict, **extra: Any) -> int:
    body = {**ELIGIBLE, "circle_id": "c_huaxizi", "category": "beauty", **extra}
    response = api.post("/v1/circles/applications", headers=keys["editor"], json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _review(api: TestClient, key: dict, app_id: int, decision: str) -> Any:
    return api.post(
        f"/v1/circles/applications/{app_id}/reviews",
        headers=key,
        json={"decision": decision, "note": "旗舰店与粉丝数已核实"},
    )


def test_two_passing_operations_reviews_open_the_circle(
    api: TestClient, keys: dict, seed: Any
) -> None:
    second_admin = seed(
        lambda f: {"Authorization": f"Bearer {create_key(f.session, 'admin', '运营-2')[1]}"}
    )
    app_id = _apply(api, keys)
    assert _review(api, keys["editor"], app_id, "pass").status_code == 403  # admins review
    first = _review(api, keys["admin"], app_id, "pass")
    assert first.status_code == 201 and first.json()["status"] == "ops_review_pending"
    again = _review(api, keys["admin"], app_id, "pass")
    assert again.status_code == 409 and "two different people" in again.json()["detail"]
    assert api.get("/v1/circles/c_huaxizi", headers=keys["admin"]).status_code == 404
    done = _review(api, second_admin, app_id, "pass").json()
    assert done["status"] == "open" and done["circle_id"] == "c_huaxizi"
    assert done["ops_reviews"] == {"required": 2, "done": 2, "pending": 0}
    assert [r["reviewer"] for r in done["reviews"]] == ["admin-1", "运营-2"]
    circle = api.get("/v1/circles/c_huaxizi", headers=keys["admin"])
    assert circle.status_code == 200 and circle.json()["brand"] == "花西子"
    listed = api.get("/v1/circles/applications?status=open", headers=keys["editor"]).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == app_id
    late = _review(api, keys["admin"], app_id, "reject")
    assert late.status_code == 409


def test_a_rejecting_review_closes_the_application(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: None)
    app_id = _apply(api, keys, circle_id="c_other")
    body = _review(api, keys["admin"], app_id, "reject").json()
    assert body["status"] == "rejected" and "circle_id" not in body  # no circle opened
    pending = api.get(
        "/v1/circles/applications?status=ops_review_pending", headers=keys["editor"]
    ).json()
    assert pending["count"] == 0


def test_a_brand_manager_key_manages_only_its_own_circles_rules(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(lambda f: f.circle(id="c_someone_else"))
    manager = keys["brand-manager"]
    own = api.put(
        f"/v1/circles/{BRAND_CIRCLE}/rules",
        headers=manager,
        json={"blocked": ["代购"], "review": ["平替"]},
    )
    assert own.status_code == 200, own.text
    assert api.get(f"/v1/circles/{BRAND_CIRCLE}/rules", headers=manager).status_code == 200
    other = api.put("/v1/circles/c_someone_else/rules", headers=manager, json={"blocked": ["代购"]})
    assert other.status_code == 403 and BRAND_CIRCLE in other.json()["detail"]
    assert api.get("/v1/review", headers=manager).status_code == 403  # rules only
