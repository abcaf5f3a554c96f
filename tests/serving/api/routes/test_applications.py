"""/v1/circles/applications: rule-by-rule admission, stored, two operations reviews pending."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

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
