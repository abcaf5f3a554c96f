"""POST /v1/posts through the dynamic batcher: one transaction per batch, acknowledged only
after it commits; a failing request leaves its batch-mates answered; backpressure is a
429/503 with Retry-After, counted on /metrics; /v1/moderate and /v1/similar batch too."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from quanzi_tests import serving_models as sm
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.orm import Post, PostScore

world = sm.world
TEXT = "用了两周，保湿效果很好，冬天脸不干，味道淡淡的，分量也足"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Batches that wait long enough (300 ms) for three concurrent requests to meet."""
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    return Settings(
        data_dir=data_dir,
        env="test",
        index_sync_interval_ms=50,
        ingest_batch_max_posts=3,
        ingest_batch_max_delay_ms=300,
        model_batch_max_texts=3,
        model_batch_max_delay_ms=300,
    )


def _post(pid: str, text: str = TEXT, **kw: Any) -> dict[str, Any]:
    return {"id": pid, "circle_id": "c-beauty", "author_id": "u-1", "text": text, **kw}


def _stored(settings: Settings, model: Any = Post) -> int:
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def _together(api: TestClient, headers: dict, bodies: list[Any], path: str = "/v1/posts") -> list:
    """Send the bodies at once from threads (they meet in one batch)."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: api.post(path, headers=headers, json=b), bodies))


def _samples(api: TestClient) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(api.get("/metrics").text)
        for s in family.samples
    }


def _failing_commits(api: TestClient) -> Callable[[], None]:
    """Make every ingest commit fail as a locked SQLite would; returns the undo."""
    engine = api.app.state.quanzi.engine

    def refuse(_conn: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    event.listen(engine, "commit", refuse)
    return lambda: event.remove(engine, "commit", refuse)


def test_concurrent_requests_share_one_batch_and_one_transaction(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    embedder = sm.HashEmbedder()
    sm.use_models(api, sm.fake_loader(embedder=embedder))
    api.app.state.quanzi.models.current()
    calls_before = embedder.calls
    responses = _together(
        api, keys["ingest"], [_post("p-1"), _post("p-2", "口红颜色很正"), _post("p-3", "好用")]
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["results"][0]["post_id"] for r in responses] == ["p-1", "p-2", "p-3"]
    batcher = api.app.state.batchers.ingest
    assert batcher.stats.sizes == {3: 1}  # one batch of three posts
    assert embedder.calls - calls_before == 1  # one encoder pass for the three requests
    assert _stored(settings) == 3 and _stored(settings, PostScore) == 12  # 4 score rows a post


def test_a_failing_request_does_not_fail_its_batch_mates(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    assert api.post("/v1/posts", headers=keys["ingest"], json=_post("p-old")).status_code == 200
    responses = _together(
        api,
        keys["ingest"],
        [
            _post("p-new"),
            _post("p-stranger", author_id="u-nobody"),  # unknown author: 404
            _post("p-old", "别的文字"),  # the id of a stored post with other text: 409
        ],
    )
    assert [r.status_code for r in responses] == [200, 404, 409]
    assert "u-nobody" in responses[1].json()["detail"]
    assert "p-old" in responses[2].json()["detail"]
    assert _stored(settings) == 2  # p-old and p-new


def test_the_same_new_post_sent_twice_at_once_is_stored_once_and_answered_twice(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    first, second = _together(api, keys["ingest"], [_post("p-1"), _post("p-1")])
    assert (first.status_code, second.status_code) == (200, 200)
    # Whichever arrived second is answered from the store the first one wrote.
    assert sorted([first.json()["replayed"], second.json()["replayed"]]) == [0, 1]
    assert first.json()["results"][0] | {"replayed": 0} == second.json()["results"][0] | {
        "replayed": 0
    }
    assert _stored(settings) == 1


def test_a_commit_that_fails_is_never_acknowledged(
    api: TestClient, keys: dict, world: dict, settings: Settings
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.app.state.quanzi.models.current()
    undo = _failing_commits(api)
    try:
        responses = _together(api, keys["ingest"], [_post("p-1"), _post("p-2", "口红颜色很正")])
    finally:
        undo()
    for response in responses:  # both requests of the transaction: 503, never 200 or 500
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "store_unavailable"
        assert "nothing was stored" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) >= 1
    assert _stored(settings) == 0 and _stored(settings, PostScore) == 0
    refused = ("batcher", "ingest"), ("reason", "store_unavailable")
    assert _samples(api)[("quanzi_batch_rejected_total", frozenset(refused))] == 2
    assert api.get("/v1/posts/p-1", headers=keys["editor"]).status_code == 404
    # Sent again once the store is back: stored and acknowledged.
    again = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1"))
    assert again.status_code == 200 and again.json()["stored"] == 1
    assert _stored(settings) == 1


def test_a_full_queue_is_a_429_with_retry_after_counted_on_metrics(
    api: TestClient, keys: dict, world: dict
) -> None:
    sm.use_models(api, sm.fake_loader())
    api.app.state.quanzi.models.current()
    batcher = api.app.state.batchers.ingest
    batcher.max_queue = 2  # posts
    hold, running = threading.Event(), threading.Event()
    handler = batcher.handler

    def held(requests: list) -> list:
        running.set()
        hold.wait(10)
        return handler(requests)

    batcher.handler = held
    with ThreadPoolExecutor(3) as pool:
        try:
            first = pool.submit(api.post, "/v1/posts", headers=keys["ingest"], json=_post("p-1"))
            assert running.wait(10)
            queued = [  # two posts wait: the queue's bound
                pool.submit(api.post, "/v1/posts", headers=keys["ingest"], json=_post(pid))
                for pid in ("p-2", "p-3")
            ]
            while batcher.depth < 2:
                threading.Event().wait(0.01)
            refused = api.post("/v1/posts", headers=keys["ingest"], json=_post("p-4"))
        finally:
            hold.set()
        assert refused.status_code == 429
        assert refused.json()["code"] == "queue_full"
        assert "queue is full" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert [f.result().status_code for f in (first, *queued)] == [200, 200, 200]
    samples = _samples(api)
    refusals = ("quanzi_batch_rejected_total", frozenset({("batcher", "ingest")}))
    assert samples[(refusals[0], refusals[1] | {("reason", "queue_full")})] == 1
    assert samples[("quanzi_batch_size_count", frozenset({("batcher", "ingest")}))] >= 2
    assert ("quanzi_batch_queue_depth", frozenset({("batcher", "ingest")})) in samples
    assert samples[("quanzi_batch_wait_seconds_count", frozenset({("batcher", "ingest")}))] == 3


def test_moderation_and_similar_texts_are_batched_across_requests(
    api: TestClient, keys: dict, world: dict
) -> None:
    embedder = sm.HashEmbedder()
    sm.use_models(api, sm.fake_loader(embedder=embedder))
    api.app.state.quanzi.models.current()
    texts = [{"text": "进店领优惠券，优惠券，优惠券！"}, {"text": TEXT}, {"text": "口红颜色很正"}]
    moderated = _together(api, keys["editor"], texts, "/v1/moderate")
    assert [r.json()["decision"] for r in moderated] == ["reject", "pass", "pass"]
    assert api.app.state.batchers.moderate.stats.sizes == {3: 1}
    unknown = api.post(
        "/v1/moderate", headers=keys["editor"], json={"text": "好", "circle_id": "x"}
    )
    assert unknown.status_code == 404 and "unknown circle 'x'" in unknown.json()["detail"]

    assert api.post("/v1/posts", headers=keys["ingest"], json=_post("p-1")).status_code == 200
    sm.wait_indexed(api, ["p-1"])
    before = embedder.calls
    found = _together(
        api, keys["editor"], [{"text": TEXT, "k": 1}, {"text": TEXT + "！", "k": 1}], "/v1/similar"
    )
    assert [r.json()["items"][0]["post_id"] for r in found] == ["p-1", "p-1"]
    assert embedder.calls - before == 1  # one encoder pass for both requests
    assert api.app.state.batchers.embed.stats.sizes == {2: 1}
