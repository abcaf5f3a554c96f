"""/v1/review: open items for editors; a decision with a reason closes the item."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from quanzi.datasets.moderation.editor_decisions import review_training_rows
from quanzi.storage.orm import Post


def _world(f: Any) -> dict[str, int]:
    a, b = f.circle(id="c-1"), f.circle(id="c-2")
    author = f.user(id="u-1")
    ids = {}
    for name, circle in (("r-1", a), ("r-2", a), ("r-3", b)):
        post = f.post(circle, author, id=name, status="review", text=f"加我vx领券 {name}")
        ids[name] = f.review(post).id
    closed = f.review(f.post(a, author, id="done", status="reject"), status="closed")
    ids["done"] = closed.id
    return ids


def test_list_open_items_oldest_first_by_circle(api: TestClient, keys: dict, seed: Any) -> None:
    ids = seed(_world)
    editor = keys["editor"]
    body = api.get("/v1/review", headers=editor).json()
    assert body["count"] == 3
    assert [i["post_id"] for i in body["data"]] == ["r-1", "r-2", "r-3"]
    assert body["data"][0]["reasons"] == {"rules": ["contact_diversion"]}
    body = api.get("/v1/review?circle_id=c-1&limit=1&offset=1", headers=editor).json()
    assert body["count"] == 2 and [i["id"] for i in body["data"]] == [ids["r-2"]]


def test_decision_is_stored_closes_the_item_and_sets_the_post(
    api: TestClient, keys: dict, seed: Any, settings: Any
) -> None:
    ids = seed(_world)
    editor = keys["editor"]
    response = api.post(
        f"/v1/review/{ids['r-1']}/decision",
        headers=editor,
        json={"decision": "reject", "reason": " 站外引流 ", "labels": ["contact", "ad"]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["post_status"] == "reject"
    assert body["decision"]["editor"] == "editor-1" and body["decision"]["reason"] == "站外引流"
    assert body["decision"]["labels"] == ["ad", "contact"]
    api.post(
        f"/v1/review/{ids['r-2']}/decision",
        headers=editor,
        json={"decision": "pass", "reason": "正常分享"},
    )
    item = api.get(f"/v1/review/{ids['r-1']}", headers=editor).json()
    assert item["status"] == "closed" and len(item["decisions"]) == 1
    assert api.get("/v1/review", headers=editor).json()["count"] == 1
    again = api.post(
        f"/v1/review/{ids['r-1']}/decision",
        headers=editor,
        json={"decision": "pass", "reason": "改判"},
    )
    assert again.status_code == 409
    assert (
        again.json()["detail"] == f"review item {ids['r-1']} is already decided: reject by editor-1"
    )

    def check(f: Any) -> None:
        assert f.session.get(Post, "r-2").status == "pass"
        rows = review_training_rows(f.session)
        assert [(r.text, r.labels, r.decision) for r in rows] == [
            ("加我vx领券 r-1", ("ad", "contact"), "reject"),
            ("加我vx领券 r-2", (), "pass"),
        ]

    seed(check)


def test_bad_decisions_say_why(api: TestClient, keys: dict, seed: Any) -> None:
    ids = seed(_world)
    editor = keys["editor"]
    url = f"/v1/review/{ids['r-1']}/decision"
    cases = [
        ({"decision": "reject", "reason": "   ", "labels": ["ad"]}, 422, "should match pattern"),
        ({"decision": "reject", "reason": ""}, 422, "at least 1 character"),
        ({"decision": "reject", "reason": "广告"}, 422, "at least one label"),
        ({"decision": "pass", "reason": "ok", "labels": ["ad"]}, 422, "carries no labels"),
        ({"decision": "maybe", "reason": "ok"}, 422, "'pass' or 'reject'"),
        ({"decision": "reject", "reason": "x", "labels": ["rude"]}, 422, "'contact'"),
    ]
    for body, status, message in cases:
        response = api.post(url, headers=editor, json=body)
        assert response.status_code == status, body
        assert message in str(response.json()["detail"]), response.text
    response = api.post(
        "/v1/review/999/decision", headers=editor, json={"decision": "pass", "reason": "ok"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "review item 999 not found", "code": "not_found"}


def test_review_needs_an_editor_key(api: TestClient, keys: dict, seed: Any) -> None:
    ids = seed(_world)
    for method, path in [
        ("get", "/v1/review"),
        ("get", f"/v1/review/{ids['r-1']}"),
        ("post", f"/v1/review/{ids['r-1']}/decision"),
    ]:
        assert api.request(method.upper(), path).status_code == 401
        for role in ("feed-service", "ingest"):
            assert api.request(method.upper(), path, headers=keys[role]).status_code == 403


def _risky(f: Any) -> None:
    a, b = f.circle(id="c-1"), f.circle(id="c-2")
    author = f.user(id="u-1")
    text = "想要同款加我薇信 abc12345"
    cases = [
        ("q-low", a, {"labels": [{"label": "ad", "prob": 0.55, "band": "review"}]}),
        ("q-high", a, {"labels": [{"label": "contact", "prob": 0.93, "band": "review"}]}),
        ("q-copy", a, {"labels": [], "near_duplicate_of": "p-x", "near_duplicate_cosine": 0.97}),
        ("q-other", b, {"labels": [{"label": "contact", "prob": 0.99, "band": "review"}]}),
    ]
    for pid, circle, reasons in cases:
        post = f.post(circle, author, id=pid, status="review", text=text)
        f.review(post, reasons=reasons)
    f.score(
        f.session.get(Post, "q-high"),
        model_name="moderation",
        label="review",
        payload={
            "decision": "review",
            "labels": [
                {
                    "label": "contact",
                    "prob": 0.93,
                    "band": "review",
                    "spans": [{"start": 6, "end": 17, "evidence": "微信 abc12345"}],
                }
            ],
        },
    )


def test_queue_orders_by_risk_filters_by_label_and_circle_and_counts_labels(
    api: TestClient, keys: dict, seed: Any
) -> None:
    seed(_risky)
    editor = keys["editor"]
    body = api.get("/v1/review?order=riskiest", headers=editor).json()
    assert [i["post_id"] for i in body["data"]] == ["q-other", "q-copy", "q-high", "q-low"]
    assert body["counts"] == {"ad": 1, "contact": 2, "near_duplicate": 1}
    body = api.get("/v1/review?order=riskiest&circle_id=c-1&label=contact", headers=editor).json()
    assert body["count"] == 1 and body["counts"] == {"ad": 1, "contact": 1, "near_duplicate": 1}
    item = body["data"][0]
    assert item["post_id"] == "q-high" and item["risk"] == 0.93 and item["labels"] == ["contact"]
    span = item["spans"][0]
    assert span["label"] == "contact" and span["text"] == "薇信 abc12345"
    assert span["evidence"] == "微信 abc12345"  # the decoded evidence
    newest = api.get("/v1/review?order=newest&circle_id=c-1", headers=editor).json()
    assert [i["post_id"] for i in newest["data"]] == ["q-copy", "q-high", "q-low"]
    copies = api.get("/v1/review?label=near_duplicate", headers=editor).json()
    assert [i["post_id"] for i in copies["data"]] == ["q-copy"]
