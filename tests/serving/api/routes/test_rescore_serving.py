"""A rescore while the service runs: feed requests keep succeeding, and the posts a new
moderation version rejects leave the feed and the hot list within the refresh interval
(through the change log, as live changes do), while the others stay."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from quanzi_tests import rescore_models as rm
from quanzi_tests import serving_models as sm

from quanzi.serving.rescore.local import Job, Summary, run_local
from quanzi.serving.rescore.plan import Selection, plan_run
from quanzi.settings import Settings
from quanzi.storage.db import make_engine

world = sm.world
V0 = {**rm.V1, "moderation": "0"}  # the lenient champion the posts were ingested with
TEXTS = {
    "p-good": "用了两周，保湿效果很好，冬天脸不干，味道淡淡的，分量也足，推荐干皮姐妹入手",
    "p-rude": "客服太傻了，问三遍都答不上来，面霜倒是还行",
    "p-push": "进店看看，这款面霜现在买最划算",  # not 优惠券: the trust model drops those
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    return Settings(
        data_dir=data_dir, env="test", index_sync_interval_ms=50, feed_refresh_interval_ms=100
    )


def _feed(api: TestClient, keys: dict) -> set[str]:
    body = {"viewer_id": "u-viewer", "circle_id": "c-beauty", "exclude_seen": False}
    response = api.post("/v1/feed/rank", json=body, headers=keys["feed-service"])
    assert response.status_code == 200, response.text
    return {item["post_id"] for item in response.json()["items"]}


def _hot(api: TestClient, keys: dict) -> set[str]:
    response = api.get("/v1/hotlists/c-beauty", headers=keys["feed-service"])
    assert response.status_code == 200, response.text
    return {item["post_id"] for item in response.json()["items"]}


def _until(check: Any, timeout_s: float = 10.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, "not visible within the time limit"
        time.sleep(0.05)
    return time.monotonic() - started


def test_rescore_during_serving_moves_changed_decisions_to_feed_and_hot_list(
    api: TestClient, keys: dict, world: dict, settings: Settings, seed: Any
) -> None:
    sm.use_models(api, lambda s: rm.load_test_versions(s, V0))
    posts = [
        {"id": pid, "circle_id": "c-beauty", "author_id": author, "text": text}
        for (pid, text), author in zip(TEXTS.items(), ("u-1", "u-1", "u-creator"), strict=True)
    ]
    # Two authors: the feed caps each author at two posts.
    ingested = api.post("/v1/posts", headers=keys["ingest"], json={"posts": posts})
    assert ingested.status_code == 200, ingested.text
    assert {r["status"] for r in ingested.json()["results"]} == {"pass"}

    seed(_likes)
    assert _until(lambda: _feed(api, keys) == set(TEXTS)) >= 0
    assert _hot(api, keys) == set(TEXTS)

    engine = make_engine(settings.resolved_database_url)
    plan = plan_run(engine, rm.V1, Selection(), block_size=1)  # three transactions
    engine.dispose()
    job = Job(settings, settings.resolved_database_url, plan, loader=rm.load_test_versions)
    done: list[Summary] = []
    worker = threading.Thread(target=lambda: done.append(run_local(job, timeout_s=60)))
    worker.start()
    served = 0
    while worker.is_alive():  # the feed keeps answering while the rescore writes
        _feed(api, keys)
        served += 1
    worker.join()
    assert served > 0 and done[0].posts == 3
    assert done[0].changes == {"pass→reject offensive": 1, "pass→review ad": 1}

    waited = _until(lambda: _feed(api, keys) == {"p-good"})
    assert waited < 2.0  # within the refresh interval and the apply time
    assert _hot(api, keys) == {"p-good"}


def _likes(f: Any) -> None:
    from quanzi.storage.orm import Post, User

    viewer = f.user(id="u-viewer")
    now = datetime.now(UTC)
    for pid in TEXTS:
        post = f.session.get(Post, pid)
        for _ in range(3):
            f.interaction(viewer, post, kind="like", created_at=now - timedelta(minutes=5))
    assert f.session.get(User, "u-viewer") is viewer
