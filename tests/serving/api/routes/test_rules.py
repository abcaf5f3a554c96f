"""/v1/circles/{id}/rules: editors read and replace a circle's blocked and review-only terms."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_put_then_get_rules_normalised(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: f.circle(id="c-1"))
    editor = keys["editor"]
    response = api.put(
        "/v1/circles/c-1/rules",
        headers=editor,
        json={"blocked": ["加微信", "ＶＸ"], "review": ["代購"]},
    )
    assert response.status_code == 200, response.text
    expected = {"circle_id": "c-1", "blocked": ["VX", "加微信"], "review": ["代购"], "dropped": []}
    assert response.json() == expected
    assert api.get("/v1/circles/c-1/rules", headers=editor).json() == expected
    cleared = api.put("/v1/circles/c-1/rules", headers=editor, json={}).json()
    assert cleared == {"circle_id": "c-1", "blocked": [], "review": [], "dropped": []}


def test_bad_rules_say_why(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: f.circle(id="c-1"))
    editor = keys["editor"]
    cases = [
        ("/v1/circles/c-404/rules", {"blocked": ["x"]}, 404, "circle 'c-404' not found"),
        ("/v1/circles/c-1/rules", {"blocked": [""]}, 422, "at least 1 character"),
        ("/v1/circles/c-1/rules", {"blocked": ["x" * 51]}, 422, "at most 50 characters"),
        ("/v1/circles/c-1/rules", {"blocked": ["a"] * 201}, 422, "at most 200 items"),
        ("/v1/circles/c-1/rules", {"allowed": ["x"]}, 422, "Extra inputs"),
    ]
    for path, body, status, message in cases:
        response = api.put(path, headers=editor, json=body)
        assert response.status_code == status, body
        assert message in str(response.json()["detail"]), response.text
    assert api.get("/v1/circles/c-404/rules", headers=editor).status_code == 404


def test_terms_that_cannot_match_are_left_out_and_listed(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(lambda f: f.circle(id="c-1"))
    body = {"blocked": ["vx", "\u200b"], "review": ["VX", "拼单"]}
    response = api.put("/v1/circles/c-1/rules", headers=keys["editor"], json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["blocked"], out["review"]) == (["vx"], ["拼单"])
    assert len(out["dropped"]) == 2
    assert any("repeats" in d for d in out["dropped"])
    assert any("empty after normalisation" in d for d in out["dropped"])


def test_rules_need_an_editor_key(api: TestClient, keys: dict, seed: Any) -> None:
    seed(lambda f: f.circle(id="c-1"))
    for method in ("get", "put"):
        assert api.request(method.upper(), "/v1/circles/c-1/rules").status_code == 401
        response = api.request(
            method.upper(), "/v1/circles/c-1/rules", headers=keys["feed-service"], json={}
        )
        assert response.status_code == 403
