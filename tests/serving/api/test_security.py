"""Security promises: keys hashed and never logged, no SQL from strings, CORS closed by
default, per-key rate limits, body limits, one error shape."""

from __future__ import annotations

import ast
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm

from quanzi.evaluation.bench_server import free_port
from quanzi.serving.api.body_limits import json_depth_over
from quanzi.serving.app import create_app
from quanzi.serving.rate_limits import RateLimiter
from quanzi.settings import SOURCE_ROOT, Settings
from quanzi.storage.api_keys import revoke_key

settings = sm.settings


# --------------------------------------------------------------------------- keys
@contextlib.contextmanager
def logged_server(settings: Settings) -> Iterator[str]:
    """The app under uvicorn with its access log and debug logging into the root logger."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_config=None, log_level="debug"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    app.state.quanzi.models.loader = sm.fake_loader()
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_api_keys_are_stored_hashed_and_never_logged(
    settings: Settings, seed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    keys = seed(cw.seed_store)
    revoked = keys["admin"]
    seed(lambda f: revoke_key(f.session, revoked.split("_")[1]))
    caplog.set_level(logging.DEBUG)
    with logged_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        for role, key in keys.items():
            auth = {"Authorization": f"Bearer {key}"}
            client.get("/v1/circles", headers=auth)
            client.post("/v1/moderate", headers=auth, json={"text": "加我薇信 abc12345"})
            client.get("/v1/circles", headers={"X-API-Key": key})
            client.post("/v1/posts", headers=auth, json={"bad": role})  # 422 path
            client.post("/v1/feed/rank", headers=auth, json={"viewer_id": "u-1"})
        client.get("/v1/circles", headers={"Authorization": "Bearer " + keys["editor"] + "x"})
        page = client.get("/console/sign-in")
        client.post(
            "/console/sign-in", data={"key": keys["editor"], "csrf_token": cw.csrf_of(page.text)}
        )
        client.post("/console/sign-in", data={"key": keys["ingest"], "csrf_token": "forged"})
    records = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    assert len(records) > 20  # the access log and the service's own lines were captured
    secrets = [k.split("_", 2)[2] for k in keys.values()]  # the secret part of each key
    leaked = [line for line in records for s in secrets if s in line]
    assert leaked == []
    stored = (settings.data_dir / "quanzi.db").read_bytes()
    assert not any(s.encode() in stored for s in secrets)  # only salted hashes are stored


# --------------------------------------------------------------------------- SQL
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript"}
SOURCE_FOLDERS = ("quanzi", "storage", "datasets", "models", "training", "evaluation", "serving")


def _built_from_strings(node: ast.AST) -> bool:
    """An f-string, a concatenation, ``%`` or ``.format``/``.join`` producing text."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return any(isinstance(n, ast.Constant | ast.JoinedStr) for n in (node.left, node.right))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"format", "join"}
    )


def test_no_sql_is_built_from_strings() -> None:
    """Every SQL text handed to SQLAlchemy or a driver is a literal or SQLAlchemy's own
    compiled statement; values always travel as bound parameters."""
    found = []
    files = [p for folder in SOURCE_FOLDERS for p in (SOURCE_ROOT / folder).rglob("*.py")]
    assert len(files) > 100
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in SQL_CALLS and _built_from_strings(node.args[0]):
                found.append(f"{path.relative_to(SOURCE_ROOT)}:{node.lineno}")
    assert found == []


def test_the_sql_check_catches_formatted_sql() -> None:
    tree = ast.parse('conn.execute(text(f"SELECT * FROM {name}"))\ncur.execute("a" + b)')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args]
    assert sum(_built_from_strings(c.args[0]) for c in calls) == 2


# --------------------------------------------------------------------------- CORS
def test_cors_is_closed_by_default(api: TestClient) -> None:
    preflight = api.options(
        "/v1/circles",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = api.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_admits_the_configured_origins_only(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_origins": ["https://ops.example"]})
    with TestClient(create_app(configured)) as client:
        ok = client.options(
            "/v1/circles",
            headers={"Origin": "https://ops.example", "Access-Control-Request-Method": "GET"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://ops.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# --------------------------------------------------------------------------- rate limits
def test_a_key_over_its_roles_rate_gets_429_with_retry_after(settings: Settings, seed: Any) -> None:
    keys = seed(cw.seed_store)
    limited = settings.model_copy(
        update={"rate_limit_editor": 2.0, "rate_limit_burst_s": 2.0, "rate_limit_admin": 0.0}
    )
    with TestClient(create_app(limited)) as client:
        editor = {"Authorization": f"Bearer {keys['editor']}"}
        statuses = [client.get("/v1/circles", headers=editor).status_code for _ in range(6)]
        assert statuses[:4] == [200] * 4  # the bucket: 2/s × 2 s
        assert statuses[4:] == [429, 429]
        refused = client.get("/v1/circles", headers=editor)
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert "editor key" in refused.json()["detail"]
        # Another role's key (admin: no limit) is unaffected.
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        assert all(client.get("/v1/circles", headers=admin).status_code == 200 for _ in range(20))


def test_the_feed_fast_path_is_rate_limited_too(settings: Settings, seed: Any) -> None:
    keys = seed(cw.seed_store)
    limited = settings.model_copy(update={"rate_limit_feed_service": 1.0, "rate_limit_burst_s": 3})
    with TestClient(create_app(limited)) as client:
        sm.use_models(client, sm.fake_loader())
        feed = {"Authorization": f"Bearer {keys['feed-service']}"}
        body = {"viewer_id": "u-1", "circle_id": "c-beauty", "limit": 5}
        statuses = [client.post("/v1/feed/rank", headers=feed, json=body).status_code]
        statuses += [client.post("/v1/feed/rank", headers=feed, json=body).status_code]
        statuses += [client.post("/v1/feed/rank", headers=feed, json=body).status_code]
        late = client.post("/v1/feed/rank", headers=feed, json=body)
        assert statuses == [200, 200, 200]  # the second and third ride the fast path
        assert late.status_code == 429 and "retry-after" in late.headers


def test_the_feed_service_key_gets_the_high_limit_by_default() -> None:
    defaults = Settings()
    assert defaults.rate_limit("feed-service") >= 10 * defaults.rate_limit("ingest")
    assert defaults.rate_limit("feed-service") >= 1000  # well above 300 req/s per worker


def test_the_bucket_refills_at_the_rate() -> None:
    limiter = RateLimiter({"ingest": 100.0}, burst_s=0.05)  # 5 tokens
    assert all(limiter.take(1, "ingest") is None for _ in range(5))
    wait = limiter.take(1, "ingest")
    assert wait is not None and 0 < wait <= 0.011
    time.sleep(0.03)
    assert limiter.take(1, "ingest") is None
    assert limiter.take(2, "ingest") is None  # another key has its own bucket
    assert RateLimiter({"ingest": 0.0}, 1.0).take(1, "ingest") is None  # 0 = no limit


# --------------------------------------------------------------------------- body limits
def test_a_body_over_the_limit_is_413_before_it_is_parsed(settings: Settings, keys: dict) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(small)) as client:
        body = {"text": "好" * 1500}
        response = client.post("/v1/moderate", headers=keys["admin"], json=body)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        assert "QUANZI_MAX_BODY_BYTES" in response.json()["detail"]


def test_a_body_nested_too_deep_is_refused_with_a_message(api: TestClient, keys: dict) -> None:
    deep = '{"text": "x", "circle_id": ' + "[" * 40 + "]" * 40 + "}"
    response = api.post(
        "/v1/moderate",
        headers={**keys["admin"], "Content-Type": "application/json"},
        content=deep,
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "the JSON body nests deeper than 32 levels",
        "code": "nesting_too_deep",
    }


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert not json_depth_over(b'{"a": "' + b"[" * 100 + b'"}', 32)
    assert json_depth_over(b"[" * 33 + b"]" * 33, 32)
    assert not json_depth_over(b"[" * 32 + b"]" * 32, 32)
    assert not json_depth_over(b"[[]]" * 100, 32)  # many brackets, shallow


def test_text_length_and_batch_size_limits_say_so(api: TestClient, keys: dict) -> None:
    too_long = api.post("/v1/moderate", headers=keys["admin"], json={"text": "长" * 20_001})
    assert too_long.status_code == 422 and "at most 20000 characters" in too_long.json()["detail"]
    user = {"account_created_at": "2024-01-01T00:00:00Z"}
    batch = {"users": [{"id": f"u{i}", **user} for i in range(1001)]}
    too_many = api.post("/v1/users", headers=keys["admin"], json=batch)
    assert too_many.status_code == 422 and "at most 1000 items" in too_many.json()["detail"]


# --------------------------------------------------------------------------- error shape
def test_every_error_has_one_shape(api: TestClient, keys: dict) -> None:
    answers = [
        api.get("/v1/circles"),  # 401
        api.get("/v1/review", headers=keys["feed-service"]),  # 403
        api.get("/v1/posts/nope", headers=keys["admin"]),  # 404
        api.delete("/v1/circles", headers=keys["admin"]),  # 405
        api.post("/v1/moderate", headers=keys["admin"], json={"text": ""}),  # 422
        api.get("/nowhere"),  # 404 outside the API
    ]
    for response in answers:
        body = response.json()
        assert set(body) <= {"detail", "code", "errors"}, body
        assert isinstance(body["detail"], str) and body["detail"], body
        assert isinstance(body["code"], str) and body["code"], body
    assert [r.json()["code"] for r in answers] == [
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "validation_error",
        "not_found",
    ]
    assert answers[4].json()["errors"][0]["loc"] == ["body", "text"]


def test_a_405_names_every_method_of_the_path(api: TestClient, keys: dict) -> None:
    response = api.put("/v1/collections", headers=keys["admin"], json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    # A literal path beside a templated one answers for itself alone.
    # (GET /v1/circles/applications lists applications; /v1/circles/{circle_id} is GET only.)
    response = api.delete("/v1/circles/applications", headers=keys["admin"])
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, POST"


def test_the_openapi_documents_every_routes_errors(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path.startswith("/v1/"):
                assert {"401", "403", "429"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith(("/ErrorBody", "/ValidationErrorBody")), (path, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # Every bound reaches the OpenAPI as JSON Schema says it (pydantic writes `ge`/`le`,
    # which no client reads, for bounds it cannot place on a wrapped type).
    unplaced: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            unplaced.extend(f"{where}.{k}" for k in ("ge", "le", "gt", "lt") if k in node)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(spec, "")
    assert unplaced == []


def test_source_root_is_this_checkout() -> None:
    assert (SOURCE_ROOT / "serving" / "api" / "errors.py").is_file()
    assert isinstance(SOURCE_ROOT, Path)
