"""POST /v1/users, /v1/relations, /v1/interactions: the feed service's batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from quanzi.storage.orm import Interaction

NOW = datetime.now(UTC)
USER = {"id": "u-2", "account_created_at": "2024-05-01T08:00:00+08:00", "kind": "creator"}


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    user = f.user(id="u-1")
    f.post(circle, user, id="p-1")


def test_batches_store_users_relations_interactions(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    ingest = keys["ingest"]
    response = api.post("/v1/users", headers=ingest, json={"users": [USER]})
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert api.post("/v1/users", headers=ingest, json={"users": [USER]}).status_code == 200
    user = api.get("/v1/users/u-2", headers=ingest).json()
    assert user["kind"] == "creator" and user["account_created_at"] == "2024-05-01T00:00:00Z"

    response = api.post(
        "/v1/relations",
        headers=keys["feed-service"],
        json={
            "user_relations": [{"user_id": "u-1", "other_id": "u-2", "kind": "friend"}],
            "brand_relations": [{"user_id": "u-2", "circle_id": "c-1", "kind": "past_buyer"}],
        },
    )
    assert response.json() == {"user_relations": 1, "brand_relations": 1}
    relations = api.get("/v1/users/u-2", headers=ingest).json()["relations"]
    assert relations["friends"] == 1 and relations["brands"]["past_buyer"]["active"] == 1

    response = api.post(
        "/v1/interactions",
        headers=ingest,
        json={
            "interactions": [
                {
                    "user_id": "u-2",
                    "post_id": "p-1",
                    "kind": kind,
                    "created_at": (NOW - timedelta(minutes=1)).isoformat(),
                }
                for kind in ("impression", "like")
            ]
        },
    )
    assert response.status_code == 201 and response.json() == {"accepted": 2}


def test_bad_batches_say_what_to_fix(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    ingest = keys["ingest"]
    old = "2025-01-01T00:00:00Z"
    cases = [
        ("/v1/users", {"users": []}, 422, "at least 1 item"),
        (
            "/v1/users",
            {"users": [{**USER, "account_created_at": "2024-05-01T08:00:00"}]},
            422,
            "timezone",
        ),
        ("/v1/users", {"users": [{**USER, "kind": "bot"}]}, 422, "'merchant'"),
        ("/v1/users", {"users": [{**USER, "merchant_circle_id": "c-9"}]}, 404, "circles: c-9"),
        ("/v1/users", {"users": [USER] * 1001}, 422, "at most 1000 items"),
        (
            "/v1/relations",
            {"user_relations": [{"user_id": "u-1", "other_id": "u-7", "kind": "follow"}]},
            404,
            "users: u-7",
        ),
        (
            "/v1/interactions",
            {
                "interactions": [
                    {"user_id": "u-1", "post_id": "p-1", "kind": "poke", "created_at": old}
                ]
            },
            422,
            "'impression'",
        ),
        (
            "/v1/interactions",
            {
                "interactions": [
                    {"user_id": "u-8", "post_id": "p-9", "kind": "like", "created_at": old}
                ]
            },
            404,
            "users: u-8; posts: p-9",
        ),
    ]
    for path, body, status, message in cases:
        response = api.post(path, headers=ingest, json=body)
        assert response.status_code == status, (path, response.text[:300])
        assert message in str(response.json()["detail"]), response.text[:300]


def test_batches_need_an_ingest_or_feed_key(api: TestClient, keys: dict, seed: Any) -> None:
    seed(_world)
    for path in ("/v1/users", "/v1/relations", "/v1/interactions"):
        assert api.post(path, json={}).status_code == 401
        assert api.post(path, headers=keys["editor"], json={}).status_code == 403
        response = api.post(path, headers=keys["feed-service"], json={"bogus": 1})
        assert response.status_code == 422


def test_batches_take_repeats_self_edges_and_future_times_as_documented(
    api: TestClient, keys: dict, seed: Any
) -> None:
    """What the schema admits is accepted, each with a stated meaning: a repeated user id's
    last copy wins, an edge to oneself is skipped, an empty relation batch writes nothing,
    a time ahead of the service's clock is taken as now."""
    seed(_world)
    ingest = keys["ingest"]
    renamed = {**USER, "display_name": "后来的名字"}
    response = api.post("/v1/users", headers=ingest, json={"users": [USER, renamed]})
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    assert api.get("/v1/users/u-2", headers=ingest).json()["display_name"] == "后来的名字"
    self_edge = {"user_relations": [{"user_id": "u-1", "other_id": "u-1", "kind": "follow"}]}
    response = api.post("/v1/relations", headers=ingest, json=self_edge)
    assert response.json() == {"user_relations": 0, "brand_relations": 0}
    assert api.post("/v1/relations", headers=ingest, json={}).status_code in (200, 201)
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    body = {
        "interactions": [{"user_id": "u-1", "post_id": "p-1", "kind": "like", "created_at": future}]
    }
    response = api.post("/v1/interactions", headers=ingest, json=body)
    assert response.status_code == 201, response.text
    stored = seed(lambda f: f.session.scalars(select(Interaction.created_at)).all())
    latest = max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in stored)
    assert latest <= datetime.now(UTC) + timedelta(minutes=1)
