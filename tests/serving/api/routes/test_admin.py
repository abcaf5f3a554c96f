"""/v1/admin: reload swaps every model at once, drops no request, keeps old models on failure."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import serving_models as sm

settings = sm.settings
world = sm.world


def test_reload_drops_no_request_and_never_mixes_versions(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader("1"))
    assert (
        api.get("/v1/admin/models", headers=keys["admin"]).json()["model_versions"]["quality"]
        == "1"
    )
    sm.use_models(api, sm.fake_loader("2", delay_s=1.0))  # the next load takes a second
    statuses: list[int] = []
    versions: list[tuple[str, ...]] = []
    stop = threading.Event()

    def hammer(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            post = {
                "id": f"p-{worker}-{n}",
                "circle_id": "c-beauty",
                "author_id": "u-1",
                "text": f"第{worker}-{n}条：保湿面霜用了一周，脸不干，质地清爽",
            }
            r = api.post("/v1/posts", headers=keys["ingest"], json=post)
            statuses.append(r.status_code)
            if r.status_code == 200:
                mv = r.json()["results"][0]["model_versions"]
                versions.append((mv["moderation"], mv["quality"], mv["trust"]))

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    response = api.post("/v1/admin/reload", headers=keys["admin"])
    assert response.status_code == 202, response.text
    assert response.json()["reload"]["state"] == "running"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reload = api.get("/v1/admin/models", headers=keys["admin"]).json()["reload"]
        if reload["state"] == "done":
            break
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests: {set(statuses)}"
    assert set(versions) == {("1", "1", "1"), ("2", "2", "2")}  # never a mix
    first_new = versions.index(("2", "2", "2"))
    assert ("1", "1", "1") in versions[:first_new]
    models = api.get("/v1/admin/models", headers=keys["admin"]).json()
    assert models["generation"] == 2 and models["model_versions"]["trust"] == "2"
    assert models["index"]["count"] >= 1  # same encoder version: the index was kept
    metrics = api.get("/metrics").text
    assert 'quanzi_model_version_info{model="quality",version="2"} 1.0' in metrics
    assert 'version="1"' not in metrics
    assert 'quanzi_index_vectors{index="posts-hash-256"}' in metrics


def test_waited_reload_answers_with_the_new_models(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader("1"))
    sm.use_models(api, sm.fake_loader("5"))
    response = api.post("/v1/admin/reload", headers=keys["admin"], json={"wait": True})
    assert response.status_code == 200
    body = response.json()
    assert body["reload"]["state"] == "done"
    assert body["models"]["model_versions"]["moderation"] == "5"


def test_a_failed_reload_keeps_the_models_in_force(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader("1"))
    api.get("/v1/admin/models", headers=keys["admin"]).raise_for_status()

    def broken(_settings: Any) -> Any:
        raise RuntimeError("champion artifact is damaged")

    sm.use_models(api, broken)
    body = api.post("/v1/admin/reload", headers=keys["admin"], json={"wait": True}).json()
    assert body["reload"]["state"] == "failed"
    assert "champion artifact is damaged" in body["reload"]["error"]
    assert body["models"]["model_versions"]["quality"] == "1"
    moderated = api.post("/v1/moderate", headers=keys["ingest"], json={"text": "好"})
    assert moderated.status_code == 200


def test_reload_asks_the_other_workers_through_the_data_dir(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader("1"))
    registry = api.app.state.quanzi.models
    assert not registry.reload_request_path.exists()
    api.post("/v1/admin/reload", headers=keys["admin"], json={"wait": True}).raise_for_status()
    assert registry.reload_request_path.exists()


@pytest.mark.parametrize("body", [{"wait": "soon"}, {"now": True}])
def test_bad_reload_body_is_422(api: TestClient, keys: dict, world: dict, body: dict) -> None:
    response = api.post("/v1/admin/reload", headers=keys["admin"], json=body)
    assert response.status_code == 422


def test_admin_routes_need_an_admin_key(api: TestClient, keys: dict, world: dict) -> None:
    assert api.post("/v1/admin/reload").status_code == 401
    assert api.get("/v1/admin/models").status_code == 401
    for role in ("editor", "feed-service", "ingest"):
        response = api.post("/v1/admin/reload", headers=keys[role])
        assert response.status_code == 403
        assert "admin" in response.json()["detail"]
