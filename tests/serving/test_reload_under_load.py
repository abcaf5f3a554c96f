"""Hot reload under load: two ``POST /v1/admin/reload`` while feed ranking and ingest run.

A real server (uvicorn on loopback) and client threads sending feed-rank requests and
ingest batches back to back; each model load takes a while (so requests overlap it) and
gives a new generation ``N`` whose every model — moderation, quality, trust and the
learned ranker — has version ``N``. Every response must succeed, name the versions it
used, and use one generation only.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm

from quanzi.models.loading import LoadedModels
from quanzi.models.ranker import FEATURES, LinearRanker
from quanzi.settings import Settings

settings = sm.settings
LOAD_SECONDS = 0.4  # each model load: long enough for requests to run across it


def generations() -> Any:
    """A loader whose n-th load serves generation n everywhere (ranker included)."""
    counter = itertools.count(1)
    embedder = sm.HashEmbedder()  # one encoder version throughout: the index is kept

    def load(settings_: Settings) -> LoadedModels:
        n = next(counter)
        time.sleep(LOAD_SECONDS)
        models = sm.fake_loader(str(n), embedder=embedder)(settings_)
        models.ranker = LinearRanker(
            features=(FEATURES[0],), mean=[0.0], scale=[1.0], weights=[1.0], version=str(n)
        )
        return models

    return load


def test_two_reloads_under_feed_and_ingest_load_drop_and_mix_nothing(
    settings: Settings, seed: Any
) -> None:
    keys = seed(cw.seed_store)
    outcomes: list[tuple[str, int, Any]] = []  # (kind, status, body)
    lock = threading.Lock()
    stop = threading.Event()
    with cw.console_server(settings, loader=generations()) as (base, app):
        cw.load_posts(base, keys["ingest"])  # the first load: generation 1
        registry = app.state.quanzi.models

        def feed_client() -> None:
            auth = {"Authorization": f"Bearer {keys['feed-service']}"}
            body = {"viewer_id": "u-1", "circle_id": cw.CIRCLE, "limit": 5}
            with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
                while not stop.is_set():
                    r = client.post("/v1/feed/rank", json=body)
                    with lock:
                        outcomes.append(("feed", r.status_code, r.json()))

        def ingest_client(worker: int) -> None:
            auth = {"Authorization": f"Bearer {keys['ingest']}"}
            with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
                for batch in itertools.count():
                    if stop.is_set():
                        return
                    posts = [
                        {
                            "id": f"p-load-{worker}-{batch}-{i}",
                            "circle_id": cw.CIRCLE,
                            "author_id": cw.AUTHORS[(batch + i) % len(cw.AUTHORS)],
                            "text": f"第{batch}批第{i}条：面霜保湿效果不错，用了{batch + 2}周。",
                        }
                        for i in range(4)
                    ]
                    r = client.post("/v1/posts", json={"posts": posts})
                    with lock:
                        outcomes.append(("ingest", r.status_code, r.json()))

        threads = [threading.Thread(target=feed_client) for _ in range(2)]
        threads += [threading.Thread(target=ingest_client, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
            for _ in range(2):
                time.sleep(0.5)
                accepted = client.post("/v1/admin/reload", json={})
                assert accepted.status_code == 202
                while registry.status.state == "running":  # requests flow meanwhile
                    time.sleep(0.02)
                assert registry.status.state == "done", registry.status
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(30)

    failed = [(kind, status, body) for kind, status, body in outcomes if status != 200]
    assert failed == []
    seen: dict[str, set[str]] = {"feed": set(), "ingest": set()}
    for kind, _status, body in outcomes:
        if kind == "feed":
            ranker = body["model_versions"]["ranker"]
            assert ranker.startswith("learned-v"), body["model_versions"]
            seen["feed"].add(ranker.removeprefix("learned-v"))
        else:
            versions = {
                (r["model_versions"]["moderation"], r["model_versions"]["quality"])
                for r in body["results"]
            }
            versions |= {(r["model_versions"]["trust"],) * 2 for r in body["results"]}
            used = {v for pair in versions for v in pair}
            assert len(used) == 1, f"one batch mixed model generations: {body['results']}"
            seen["ingest"] |= used
    counts = {k: sum(1 for kind, *_ in outcomes if kind == k) for k in seen}
    assert min(counts.values()) >= 10, counts  # it was under load throughout
    # Both reloads took effect while requests flowed: generations 1 → 2 → 3 were served.
    assert seen["feed"] == {"1", "2", "3"}, seen
    assert seen["ingest"] >= {"2", "3"}, seen
