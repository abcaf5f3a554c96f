"""Probes: /healthz always, /readyz only when the schema is in place."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from quanzi.settings import Settings
from quanzi.storage.db import downgrade_url, head_revision, upgrade_url


def test_healthz_answers_without_a_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_503_with_a_fix_when_the_schema_is_missing(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "quanzi db upgrade" in response.json()["detail"]


def test_readyz_is_ready_at_head(seed: Any, client: TestClient) -> None:
    seed(lambda f: None)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "sqlite",
        "revision": head_revision(),
        "worker": os.getpid(),  # the test client runs the app in this process
        "models": "not loaded yet (loaded on first use)",
        "degraded": [],
        "mode": "full",
        "feed": {
            "snapshot": "loaded on first use",
            "error": None,
            "ranker": "weighted-v1 (no quanzi-ranker champion)",
        },
    }


def test_readyz_waits_for_the_feed_snapshot_preload(seed: Any, client: TestClient) -> None:
    seed(lambda f: None)
    feed = client.app.state.feed
    release = threading.Event()
    feed.start(models_settled=release.is_set)  # held back until we release it
    response = client.get("/readyz")
    assert response.status_code == 503 and "snapshot is loading" in response.json()["detail"]
    release.set()
    deadline = time.monotonic() + 20
    while feed.loading and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["feed"]["snapshot"] == "loaded"
    assert response.json()["feed"]["error"] is None


def test_readyz_notices_a_downgrade_while_running(
    seed: Any, client: TestClient, settings: Settings
) -> None:
    seed(lambda f: None)
    assert client.get("/readyz").status_code == 200
    downgrade_url(settings.resolved_database_url, "base")
    assert client.get("/readyz").status_code == 503
    upgrade_url(settings.resolved_database_url)
    assert client.get("/readyz").status_code == 200


def test_readyz_reports_an_unreachable_database(tmp_path: Any) -> None:
    # A directory where the SQLite file should be: the database cannot be opened.
    (tmp_path / "quanzi.db").mkdir()
    from quanzi.serving.app import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path, env="test"))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("database unreachable")
