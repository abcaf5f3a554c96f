"""Every route × every caller against a declared table of who may do what.

The table below is the access policy, written out by hand; the test enumerates the app's
routes (a route missing from the table fails it) and calls each one as every kind of
caller: no key, a garbage key, a revoked key, and a key of each role. Callers the table
admits must get past authentication and authorisation (any status but 401/403); the
others get 401 (no valid key) or 403 (valid key, wrong role). The console's pages are
session-signed, not keyed: ``tests/serving/console/test_sessions.py`` checks each of them.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

from quanzi.serving.api.errors import api_routes
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import ROLES, create_key, revoke_key

OPEN = "open"  # no key needed
ANY = frozenset(ROLES)
FEED = frozenset({"feed-service", "admin"})
WRITERS = frozenset({"feed-service", "ingest", "admin"})
EDITORS = frozenset({"editor", "admin"})
ADMIN = frozenset({"admin"})
# A brand-manager key manages its own circle's rules (its circle here is ``c-x``, the
# circle every call below names) and reads what any key reads; nothing else.
RULES = EDITORS | {"brand-manager"}

# (method, path) → the roles admitted (admin everywhere), or OPEN.
POLICY: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("POST", "/v1/feed/rank"): FEED,
    ("POST", "/v1/similar"): FEED | EDITORS,
    ("GET", "/v1/hotlists/{circle_id}"): FEED | EDITORS,
    ("POST", "/v1/users"): WRITERS,
    ("POST", "/v1/posts"): WRITERS,
    ("POST", "/v1/relations"): WRITERS,
    ("POST", "/v1/interactions"): WRITERS,
    ("POST", "/v1/moderate"): WRITERS | EDITORS,
    ("GET", "/v1/circles"): ANY,
    ("GET", "/v1/circles/{circle_id}"): ANY,
    ("GET", "/v1/circles/{circle_id}/posts"): ANY,
    ("GET", "/v1/users/{user_id}"): ANY,
    ("GET", "/v1/posts/{post_id}"): ANY,
    ("POST", "/v1/circles/applications"): EDITORS,
    ("GET", "/v1/circles/applications"): EDITORS,
    ("GET", "/v1/circles/applications/{application_id}"): EDITORS,
    ("POST", "/v1/circles/applications/{application_id}/reviews"): ADMIN,
    ("GET", "/v1/circles/{circle_id}/rules"): RULES,
    ("PUT", "/v1/circles/{circle_id}/rules"): RULES,
    ("POST", "/v1/collections"): EDITORS,
    ("GET", "/v1/collections"): EDITORS,
    ("GET", "/v1/collections/{collection_id}"): EDITORS,
    ("GET", "/v1/collections/{collection_id}/served"): FEED | EDITORS,
    ("PATCH", "/v1/collections/{collection_id}"): EDITORS,
    ("DELETE", "/v1/collections/{collection_id}"): EDITORS,
    ("POST", "/v1/collections/{collection_id}/items"): EDITORS,
    ("PUT", "/v1/collections/{collection_id}/items"): EDITORS,
    ("DELETE", "/v1/collections/{collection_id}/items/{post_id}"): EDITORS,
    ("GET", "/v1/collections/{collection_id}/suggestions"): EDITORS,
    ("POST", "/v1/collections/{collection_id}/publish"): EDITORS,
    ("GET", "/v1/hotlists/{circle_id}/overrides"): EDITORS,
    ("POST", "/v1/hotlists/{circle_id}/overrides"): EDITORS,
    ("DELETE", "/v1/hotlists/{circle_id}/overrides/{post_id}"): EDITORS,
    ("GET", "/v1/review"): EDITORS,
    ("GET", "/v1/review/{review_id}"): EDITORS,
    ("POST", "/v1/review/{review_id}/decision"): EDITORS,
    ("GET", "/v1/banner/picks"): EDITORS,
    ("GET", "/v1/topics"): ANY,
    ("GET", "/v1/topics/trending"): ANY,
    ("GET", "/v1/topics/{topic_id}/posts"): ANY,
    ("POST", "/v1/topics"): EDITORS,
    ("PATCH", "/v1/topics/{topic_id}"): EDITORS,
    ("POST", "/v1/topics/{topic_id}/merge"): EDITORS,
    ("POST", "/v1/topics/discover"): EDITORS,
    ("POST", "/v1/questions"): WRITERS,
    ("GET", "/v1/questions/{question_id}"): ANY,
    ("POST", "/v1/questions/{question_id}/answers"): WRITERS,
    ("DELETE", "/v1/questions/{question_id}"): WRITERS,
    ("POST", "/v1/admin/reload"): ADMIN,
    ("GET", "/v1/admin/models"): ADMIN,
}
CALLERS = ("none", "garbage", "revoked", *ROLES)
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets/{name}", "/redoc"}


def served_routes(settings: Settings) -> list[tuple[str, str]]:
    """Every (method, path) the app serves outside the docs and the console."""
    return sorted(
        (method, route.path_format)
        for route in api_routes(create_app(settings).routes)
        if not route.path.startswith("/console") and route.path not in DOCS
        for method in route.methods
    )


def test_the_table_covers_every_route_and_nothing_else(settings: Settings) -> None:
    assert set(served_routes(settings)) == set(POLICY)


@pytest.fixture
def callers(seed: Any) -> dict[str, dict[str, str]]:
    """Headers per caller: none, a well-formed unknown key, a revoked key, each role's key."""

    def build(f: Any) -> dict[str, dict[str, str]]:
        f.circle(id="c-x")  # the brand-manager key's circle (the one every call names)
        headers = {
            role: create_key(
                f.session, role, role, circle_id="c-x" if role == "brand-manager" else None
            )[1]
            for role in ROLES
        }
        row, revoked = create_key(f.session, "admin", "revoked")
        revoke_key(f.session, row.prefix)
        return {
            "none": {},
            "garbage": {"Authorization": "Bearer qz_0123456789ab_" + "x" * 43},
            "revoked": {"Authorization": f"Bearer {revoked}"},
            **{role: {"Authorization": f"Bearer {key}"} for role, key in headers.items()},
        }

    return seed(build)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path.format(
        circle_id="c-x",
        collection_id=1,
        post_id="p-x",
        user_id="u-x",
        review_id=1,
        application_id=1,
        topic_id=1,
        question_id="q-x",
    )
    body = {"wait": False} if path == "/v1/admin/reload" else {}
    if method in {"POST", "PUT", "PATCH"}:
        return client.request(method, url, headers=headers, json=body)
    return client.request(method, url, headers=headers)


def test_every_route_admits_exactly_the_callers_of_the_table(
    settings: Settings, callers: dict[str, dict[str, str]]
) -> None:
    refused: list[str] = []
    with TestClient(create_app(settings)) as client:
        sm.use_models(client, sm.fake_loader())  # a reload by admin loads these
        for method, path in served_routes(settings):
            allowed = POLICY[(method, path)]
            for caller in CALLERS:
                status = _call(client, method, path, callers[caller]).status_code
                if allowed == OPEN or caller in allowed:
                    expected = "any but 401/403"
                    ok = status not in (401, 403)
                elif caller in ("none", "garbage", "revoked"):
                    expected, ok = "401", status == 401
                else:
                    expected, ok = "403", status == 403
                if not ok:
                    refused.append(f"{method} {path} as {caller}: {status}, expected {expected}")
        client.app.state.quanzi.models.wait(30)
    assert refused == []
