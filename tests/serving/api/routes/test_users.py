"""GET /v1/users/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient


def _world(f: Any) -> None:
    circle = f.circle(id="c-1")
    me = f.user(
        id="me",
        kind="creator",
        creator_certified=True,
        follower_count=5300,
        account_created_at=datetime.now(UTC) - timedelta(days=40, hours=1),
    )
    friend, fan = f.user(id="friend"), f.user(id="fan")
    f.friends(me, friend)
    f.user_relation(fan, me, "follow")
    f.brand_relation(me, circle, "member", active=False)
    f.post(circle, me)


def test_read_user_with_relation_counts(seed: Any, client: TestClient) -> None:
    seed(_world)
    response = client.get("/v1/users/me")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "creator"
    assert body["creator_certified"] is True
    assert body["follower_count"] == 5300
    assert body["account_age_days"] == 40
    assert body["post_count"] == 1
    relations = body["relations"]
    assert (relations["friends"], relations["following"], relations["followers"]) == (1, 0, 1)
    assert relations["brands"]["member"] == {"active": 0, "silent": 1}
    assert relations["brands"]["fan"] == {"active": 0, "silent": 0}


def test_unknown_user_is_404(seed: Any, client: TestClient) -> None:
    seed(_world)
    response = client.get("/v1/users/ghost")
    assert response.status_code == 404
    assert response.json() == {"detail": "user 'ghost' not found", "code": "not_found"}
