"""Console sign-in, sessions, CSRF and roles, through the app with real keys (TestClient)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from quanzi_tests.console_world import csrf_of, sign_in
from sqlalchemy import select

from quanzi.serving.app import create_app
from quanzi.serving.console import sessions, web
from quanzi.settings import Settings
from quanzi.storage.api_keys import revoke_key, verify_key
from quanzi.storage.db import engine_from_settings, session_factory
from quanzi.storage.orm import Collection, ConsoleSession


def verify_key_id(settings: Settings, key: str) -> int:
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine)() as db:
            principal = verify_key(db, key)
            assert principal is not None
            return principal.key_id
    finally:
        engine.dispose()


def _rows(settings: Settings, model: Any) -> list[Any]:
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine)() as db:
            return list(db.scalars(select(model)))
    finally:
        engine.dispose()


def test_an_editor_key_opens_a_session_whose_cookie_is_not_the_key(
    console: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    response = sign_in(console, keys["editor"])
    assert response.status_code == 303
    assert response.headers["location"] == "/console/candidates"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("quanzi_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert keys["editor"] not in cookie
    [row] = _rows(settings, ConsoleSession)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only its hash
    assert console.get("/console/candidates").status_code == 200


def test_an_admin_key_signs_in_too(console: TestClient, keys: dict[str, str]) -> None:
    assert sign_in(console, keys["admin"]).status_code == 303
    assert "admin" in console.get("/console/circles").text


@pytest.mark.parametrize("role", ["ingest", "feed-service"])
def test_other_roles_get_the_not_allowed_page(
    console: TestClient, keys: dict[str, str], settings: Settings, role: str
) -> None:
    response = sign_in(console, keys[role])
    assert response.status_code == 403
    assert "Not allowed" in response.text and role in response.text
    assert "quanzi_console=" not in response.headers.get("set-cookie", "")
    assert _rows(settings, ConsoleSession) == []


@pytest.mark.parametrize("key", ["qz_000000000000_" + "x" * 43, "nonsense", ""])
def test_a_wrong_key_is_refused(console: TestClient, keys: dict[str, str], key: str) -> None:
    response = sign_in(console, key)
    assert response.status_code == 401
    assert "not valid" in response.text


def test_the_sign_in_form_needs_its_own_token(console: TestClient, keys: dict[str, str]) -> None:
    """Login CSRF: a sign-in posted from elsewhere (no double-submit cookie) is refused."""
    response = console.post(
        "/console/sign-in", data={"key": keys["editor"], "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "security token" in response.text


def test_pages_send_a_signed_out_browser_to_sign_in(console: TestClient) -> None:
    response = console.get("/console/review?order=riskiest")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console/review?order=riskiest"
    partial = console.get("/console/candidates", headers={"HX-Request": "true"})
    assert partial.status_code == 401
    assert partial.headers["HX-Redirect"] == "/console/sign-in"


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/console", "/v1/collections"]
)
def test_sign_in_never_sends_the_browser_off_the_console(
    console: TestClient, keys: dict[str, str], target: str
) -> None:
    page = console.get("/console/sign-in")
    response = console.post(
        "/console/sign-in",
        data={"key": keys["editor"], "csrf_token": csrf_of(page.text), "next": target},
    )
    assert response.headers["location"] == "/console/candidates"


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    editor: TestClient, settings: Settings
) -> None:
    form = {"circle_id": "c-beauty", "title": "合集"}
    for extra, headers in (
        ({}, {}),
        ({"csrf_token": "wrong"}, {}),
        ({}, {"X-CSRF-Token": "wrong"}),
    ):
        response = editor.post("/console/collections", data=form | extra, headers=headers)
        assert response.status_code == 403, extra or headers
    assert _rows(settings, Collection) == []
    token = csrf_of(editor.get("/console/collections").text)
    assert (
        editor.post("/console/collections", data=form | {"csrf_token": token}).status_code == 303
    )  # the form's field
    assert (
        editor.post("/console/collections", data=form, headers={"X-CSRF-Token": token}).status_code
        == 303
    )  # htmx's header
    assert len(_rows(settings, Collection)) == 2


def test_sign_out_deletes_the_session(editor: TestClient, settings: Settings) -> None:
    cookie = editor.cookies.get("quanzi_console")
    token = csrf_of(editor.get("/console/candidates").text)
    response = editor.post("/console/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?signed_out=1"
    assert _rows(settings, ConsoleSession) == []
    editor.cookies.set("quanzi_console", cookie, path="/console")  # a kept copy is worthless
    assert editor.get("/console/candidates").status_code == 303


def test_revoking_the_key_ends_its_console_sessions(
    editor: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine).begin() as db:
            principal = verify_key(db, keys["editor"])
            assert principal is not None
            revoke_key(db, principal.prefix)
    finally:
        engine.dispose()
    assert editor.get("/console/candidates").status_code == 303
    assert sign_in(editor, keys["admin"]).status_code == 303  # a sign-in purges dead rows
    assert [r.key_id for r in _rows(settings, ConsoleSession)] == [
        verify_key_id(settings, keys["admin"])
    ]


def test_idle_and_old_sessions_expire(seed: Any, keys: dict[str, str]) -> None:
    def check(f: Any) -> None:
        principal = verify_key(f.session, keys["editor"])
        now = datetime.now(UTC)
        token, signed = sessions.open_session(f.session, principal, now=now)
        assert signed.expires_at == now + sessions.IDLE_TIMEOUT
        later = now + sessions.TOUCH_EVERY + timedelta(seconds=1)
        touched = sessions.load_session(f.session, token, now=later)
        assert touched is not None and touched.expires_at > signed.expires_at  # activity
        assert sessions.load_session(f.session, token, now=later + sessions.MAX_AGE) is None
        sessions.purge_expired(f.session, now=later + sessions.MAX_AGE)
        assert sessions.load_session(f.session, token, now=later) is None  # deleted
        token, _ = sessions.open_session(f.session, principal, now=now)
        assert (
            sessions.load_session(
                f.session, token, now=now + sessions.IDLE_TIMEOUT + timedelta(seconds=1)
            )
            is None
        )

    seed(check)


def test_only_editor_and_admin_principals_get_a_session(seed: Any, keys: dict[str, str]) -> None:
    def check(f: Any) -> None:
        principal = verify_key(f.session, keys["ingest"])
        with pytest.raises(ValueError, match="may not use the console"):
            sessions.open_session(f.session, principal)

    seed(check)


def test_the_json_api_ignores_the_console_session(editor: TestClient) -> None:
    assert editor.get("/v1/collections").status_code == 401


def _console_routes(settings: Settings) -> list[APIRoute]:
    routes = []
    for route in create_app(settings).routes:
        contexts = (
            route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else []
        )
        originals = [c.original_route for c in contexts] if contexts else [route]
        routes += [
            r for r in originals if isinstance(r, APIRoute) and r.path.startswith(web.PREFIX)
        ]
    return routes


def _calls(dependant: Any) -> set[Any]:
    found = set()
    for sub in dependant.dependencies:
        found |= {sub.call} | _calls(sub)
    return found


def test_every_console_route_needs_a_session_and_every_post_its_csrf_token(
    settings: Settings,
) -> None:
    routes = _console_routes(settings)
    assert len(routes) >= 20
    open_paths = {"/console/sign-in", "/console", "/console/static/{name}"}
    for route in routes:
        calls = _calls(route.dependant)
        if route.path in open_paths:
            continue
        assert web.console_user in calls, f"{route.path} is reachable without a session"
        if "POST" in route.methods:
            assert web.console_action in calls, f"POST {route.path} skips the CSRF check"
        assert isinstance(route, web.ConsoleRoute)
