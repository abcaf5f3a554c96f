"""Two worker processes on one store see each other's posts within the index sync bound.

Two ``quanzi serve`` processes (one per port, so the test knows which worker answers) share
the database (SQLite, and PostgreSQL when ``QUANZI_TEST_POSTGRES_URL`` is set) and the data
dir. A post ingested through one is readable through the other at once (the database) and
searchable there within ``QUANZI_INDEX_SYNC_INTERVAL_MS`` plus the time to apply the change
log; an admin reload asked of one worker reaches the other through the data dir.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from quanzi.evaluation.bench_server import free_port, running_server
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import make_engine, session_factory, upgrade_url

SYNC_MS = 200
# Stated bound: sync interval + apply time; the slack absorbs a loaded 2-core CI machine.
VISIBLE_WITHIN_S = SYNC_MS / 1000 + 4.8
STARTUP_S = 240


from quanzi_tests import serving_models as sm  # noqa: E402  (tests/utils, see tests/conftest.py)


@pytest.fixture
def store(db_url: str, tmp_path: Path, factory_class: type) -> dict[str, Any]:
    """A migrated database with a circle, an author and keys, plus a tiny encoder."""
    upgrade_url(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            sm.seed_world(factory_class(session))
            keys = {
                role: {"Authorization": f"Bearer {create_key(session, role, role)[1]}"}
                for role in ("ingest", "editor", "admin")
            }
    finally:
        engine.dispose()
    encoder = sm.build_tiny_encoder(tmp_path / "encoder")
    return {"url": db_url, "keys": keys, "encoder": encoder}


@pytest.fixture
def workers(store: dict[str, Any], tmp_path: Path) -> Iterator[list[str]]:
    """Two ``quanzi serve`` processes on one store; yields their base URLs."""
    env = {
        **os.environ,
        "QUANZI_DATA_DIR": str(tmp_path / "data"),
        "QUANZI_DATABASE_URL": store["url"],
        "QUANZI_ENCODER": str(store["encoder"]),
        "QUANZI_INDEX_SYNC_INTERVAL_MS": str(SYNC_MS),
        "QUANZI_ENV": "development",
        "QUANZI_LOG_LEVEL": "warning",
        "QUANZI_TORCH_THREADS": "1",
    }
    with contextlib.ExitStack() as stack:
        bases = []
        for i in range(2):  # two `quanzi serve` processes, each waited for until ready
            port = free_port()
            stack.enter_context(
                running_server(
                    env,
                    tmp_path,
                    port,
                    workers=1,
                    ready_streak=1,
                    log_path=tmp_path / f"worker-{i}.log",
                    timeout_s=STARTUP_S,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        yield bases


def _visible_after(base: str, keys: dict, text: str, post_id: str) -> float:
    """Seconds until ``post_id`` is a neighbour of ``text`` on the worker at ``base``."""
    start = time.monotonic()
    while time.monotonic() - start < 30:
        response = httpx.post(
            f"{base}/v1/similar",
            headers=keys["editor"],
            timeout=10,
            json={"text": text, "k": 5, "statuses": ["pass", "review"]},
        )
        assert response.status_code == 200, response.text
        if post_id in {item["post_id"] for item in response.json()["items"]}:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{post_id} never became searchable on {base}")


@pytest.mark.slow  # two processes importing torch: 40–100 s on a loaded 2-core machine
def test_two_processes_see_each_others_posts_and_reloads(
    workers: list[str], store: dict[str, Any]
) -> None:
    keys = store["keys"]
    texts = {"p-a": "保湿面霜质地轻薄，冬天用着脸不干", "p-b": "手机续航一天，拍照很清楚"}
    for (post_id, text), (here, there) in zip(texts.items(), (workers, workers[::-1]), strict=True):
        response = httpx.post(
            f"{here}/v1/posts",
            headers=keys["ingest"],
            timeout=30,
            json={"id": post_id, "circle_id": "c-beauty", "author_id": "u-1", "text": text},
        )
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["model_versions"]["encoder"] != "unavailable"
        read = httpx.get(f"{there}/v1/posts/{post_id}", headers=keys["editor"], timeout=10)
        assert read.status_code == 200 and read.json()["text"] == text
        seconds = _visible_after(there, keys, text, post_id)
        print(f"{post_id} searchable on the other worker after {seconds:.3f} s")
        assert seconds <= VISIBLE_WITHIN_S

    before = httpx.get(f"{workers[1]}/v1/admin/models", headers=keys["admin"], timeout=30).json()
    response = httpx.post(
        f"{workers[0]}/v1/admin/reload", headers=keys["admin"], timeout=120, json={"wait": True}
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = httpx.get(f"{workers[1]}/v1/admin/models", headers=keys["admin"], timeout=30).json()
        if after["generation"] > before["generation"]:
            break
        time.sleep(0.2)
    assert after["generation"] == before["generation"] + 1
    assert after["reload"]["trigger"] == "another worker"


def test_two_app_workers_on_one_store_see_each_others_posts(
    db_url: str, tmp_path: Path, factory_class: type
) -> None:
    """The same mechanism in one process (two apps, two indexes, one store): fast enough
    for every run; the test above is the real two-process check."""
    upgrade_url(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            sm.seed_world(factory_class(session))
            keys = {
                role: {"Authorization": f"Bearer {create_key(session, role, role)[1]}"}
                for role in ("ingest", "editor")
            }
    finally:
        engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, env="test", index_sync_interval_ms=SYNC_MS
    )
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        for client in (one, two):
            sm.use_models(client, sm.fake_loader())
            client.app.state.quanzi.models.current()  # both indexes open before the ingest
        text = "保湿面霜质地轻薄，冬天用着脸不干"
        response = one.post(
            "/v1/posts",
            headers=keys["ingest"],
            json={"id": "p-a", "circle_id": "c-beauty", "author_id": "u-1", "text": text},
        )
        assert response.status_code == 200, response.text
        assert two.get("/v1/posts/p-a", headers=keys["editor"]).status_code == 200
        start = time.monotonic()
        sm.wait_indexed(two, ["p-a"], timeout_s=VISIBLE_WITHIN_S)
        seconds = time.monotonic() - start
        hits = two.post(
            "/v1/similar",
            headers=keys["editor"],
            json={"text": text, "k": 1, "statuses": ["pass", "review"]},
        ).json()
        assert hits["items"][0]["post_id"] == "p-a"
        assert seconds <= VISIBLE_WITHIN_S
