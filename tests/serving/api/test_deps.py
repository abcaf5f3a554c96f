"""Auth dependencies: 401 without a valid key, 403 with the wrong role, every route declares one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import KeyRing, revoke_key

OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, whether the app lists them flat or per included router."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.original_route


def _roles(dependant: Any) -> set[str]:
    found: set[str] = set()
    for sub in dependant.dependencies:
        found |= set(getattr(sub.call, "roles", ())) | _roles(sub)
    return found


def test_every_v1_route_declares_its_roles(settings: Settings) -> None:
    routes = list(_api_routes(create_app(settings).routes))
    v1 = [r for r in routes if r.path.startswith("/v1/")]
    assert len(v1) >= 20
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in v1 if not _roles(r.dependant)]
    assert undeclared == [], "add a key alias (EditorKey, FeedKey, …) to these handlers"
    # /console is the editor console: session-signed pages (tests/serving/console).
    others = {r.path for r in routes if not r.path.startswith(("/v1/", "/console"))}
    assert others <= OPEN_PATHS | {
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/docs/assets/{name}",
    }
    assert all(not _roles(r.dependant) for r in routes if r.path in OPEN_PATHS)


def test_missing_key_is_401_with_a_challenge(api: TestClient, keys: dict) -> None:
    response = api.get("/v1/circles")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer qz_000000000000_" + "x" * 43},
        {"Authorization": "Bearer nonsense"},
        {"X-API-Key": "qz_000000000000_" + "x" * 43},
    ],
)
def test_unknown_key_is_401(api: TestClient, keys: dict, header: dict[str, str]) -> None:
    response = api.get("/v1/circles", headers=header)
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown or revoked API key", "code": "unauthorized"}


def test_a_key_with_one_wrong_character_is_401(api: TestClient, keys: dict) -> None:
    key = keys["editor"]["Authorization"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert api.get("/v1/circles", headers={"Authorization": tampered}).status_code == 401


def test_wrong_role_is_403_naming_the_roles(api: TestClient, keys: dict) -> None:
    response = api.get("/v1/review", headers=keys["feed-service"])
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "this route needs a key with role editor or admin; this key has role 'feed-service'"
    )


def test_x_api_key_header_works_like_bearer(api: TestClient, keys: dict) -> None:
    key = keys["editor"]["Authorization"].removeprefix("Bearer ")
    assert api.get("/v1/review", headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize("role", ["feed-service", "ingest", "editor", "admin"])
def test_read_endpoints_take_any_valid_key(api: TestClient, keys: dict, role: str) -> None:
    assert api.get("/v1/circles", headers=keys[role]).status_code == 200


def test_admin_passes_every_role_check(api: TestClient, keys: dict) -> None:
    assert api.get("/v1/review", headers=keys["admin"]).status_code == 200
    response = api.post("/v1/interactions", headers=keys["admin"], json={"interactions": []})
    assert response.status_code == 422  # past auth, stopped by validation


def test_revoked_key_is_refused(api: TestClient, keys: dict, seed: Any) -> None:
    api.app.state.keyring = KeyRing(ttl_s=0)  # no cache: the TTL is tested in test_api_keys.py
    headers = keys["editor"]
    assert api.get("/v1/review", headers=headers).status_code == 200
    seed(lambda f: revoke_key(f.session, headers["Authorization"].split("_")[1]))
    assert api.get("/v1/review", headers=headers).status_code == 401


def test_open_routes_need_no_key(api: TestClient, keys: dict) -> None:
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200
    assert api.get("/metrics").status_code == 200
    assert api.get("/openapi.json").status_code == 200
