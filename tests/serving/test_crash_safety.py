"""Crash safety: every post acknowledged with a 2xx survives ``kill -9`` of the server and
its workers during sustained ingest.

Real processes: ``quanzi serve --workers 2`` (in a process group of its own) on SQLite,
and on PostgreSQL when ``QUANZI_TEST_POSTGRES_URL`` is set (``.ci/run`` starts one). Eight
clients send one post a request until the group is killed with SIGKILL mid-flight; the
server is started again on the same store and data dir, and the test states how long it
took to be ready. Then every acknowledged post must be
- in the store (with its vector),
- in the FAISS index after startup reconciliation: its own text finds it, and the index
  holds exactly the store's indexable posts,
- in the feed snapshot: ranked when given as a candidate (posts moderation passed).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from quanzi_tests import serving_models as sm
from sqlalchemy import func, select

from quanzi.evaluation.bench_server import free_port, start_server, wait_ready
from quanzi.models.index.sync import INDEXABLE_STATUSES
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import make_engine, session_factory, upgrade_url
from quanzi.storage.orm import Post, PostEmbedding

STARTUP_S = 300  # two workers importing torch on a loaded 2-core machine
CLIENTS = 8
MIN_ACKED = 60  # acknowledged posts before the kill
INGEST_S = 60  # at most this long before the kill

# Hand-written review sentences; a post joins three of them, so posts differ in content.
SENTENCES = [
    "面霜很滋润，冬天用脸不干",
    "口红颜色很正，显白不拔干",
    "手机续航一天没问题",
    "拍照夜景比上一代清楚很多",
    "快递第二天就到了，包装完好",
    "客服回复很快，退换货也方便",
    "这款洗发水味道淡淡的，头皮不痒",
    "跑鞋鞋底软，跑五公里脚不累",
    "奶粉宝宝爱喝，没有上火",
    "纸尿裤很薄，夜里不漏",
    "耳机降噪效果一般，但音质不错",
    "电饭煲煮饭很香，预约功能好用",
    "扫地机器人吸力大，能自己回充",
    "面膜敷完第二天皮肤很透亮",
    "防晒霜不油腻，军训两周没晒黑",
    "书的纸张很厚，印刷清楚",
    "咖啡豆香气足，酸度适中",
    "羽绒服很轻，零下十度也够暖",
    "行李箱轮子很顺，推起来没声音",
    "台灯光线柔和，看书眼睛不累",
    "保温杯六小时后水还是烫的",
    "键盘手感清脆，打字很舒服",
    "猫粮颗粒小，家里的猫很爱吃",
    "床垫软硬适中，腰不酸了",
    "电动牙刷震动强，续航一个月",
    "空气炸锅做鸡翅外酥里嫩",
    "瑜伽垫防滑，味道也不大",
    "眼霜用了一个月，细纹淡了一点",
    "洗衣液泡沫少，好漂洗",
    "儿童绘本图画精美，孩子天天翻",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < n:
        text = "，".join(rng.sample(SENTENCES, 3)) + f"。第{rng.randint(1, 99)}次回购"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


@pytest.fixture
def store(db_url: str, factory_class: type) -> dict[str, Any]:
    """A migrated database with a circle, twenty authors and keys."""
    upgrade_url(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            f = factory_class(session)
            sm.seed_world(f)
            for i in range(20):
                f.user(id=f"u-crash-{i}")
            keys = {
                role: {"Authorization": f"Bearer {create_key(session, role, role)[1]}"}
                for role in ("ingest", "admin", "feed-service")
            }
    finally:
        engine.dispose()
    return {"url": db_url, "keys": keys}


def _ingest_until_killed(
    base: str, keys: dict, texts: list[str], kill: Any
) -> tuple[dict[str, str], dict[str, int]]:
    """Clients post one post a request; ``kill`` runs once enough are acknowledged.
    Returns the acknowledged posts (id → text) and what the clients saw."""
    acked: dict[str, str] = {}
    seen = {"200": 0, "refused": 0, "failed": 0, "other": 0}
    lock = threading.Lock()
    stop = threading.Event()
    queue = list(enumerate(texts))

    def client() -> None:
        with httpx.Client(base_url=base, headers=keys["ingest"], timeout=60) as http:
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    i, text = queue.pop()
                post = {
                    "id": f"p-crash-{i}",
                    "circle_id": "c-beauty",
                    "author_id": f"u-crash-{i % 20}",
                    "text": text,
                }
                try:
                    response = http.post("/v1/posts", json=post)
                except httpx.HTTPError:
                    with lock:
                        seen["failed"] += 1  # the kill: never acknowledged
                    continue
                with lock:
                    if response.status_code == 200:
                        assert response.json()["results"][0]["post_id"] == post["id"]
                        acked[post["id"]] = text
                        seen["200"] += 1
                    elif response.status_code in (429, 503):
                        seen["refused"] += 1
                    else:
                        seen["other"] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + INGEST_S
    while len(acked) < MIN_ACKED and time.monotonic() < deadline:
        time.sleep(0.05)
    kill()  # mid-flight: every client has a request out
    stop.set()
    for t in threads:
        t.join(60)
    return acked, seen


def _stored(
    url: str, ids: list[str], encoder: str
) -> tuple[set[str], set[str], int, dict[str, str]]:
    """Of ``ids``: those stored, those with a vector of ``encoder``, their statuses; and
    how many posts are indexable for ``encoder``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            posts = set(conn.scalars(select(Post.id).where(Post.id.in_(ids))))
            vectors = set(
                conn.scalars(
                    select(PostEmbedding.post_id).where(
                        PostEmbedding.post_id.in_(ids), PostEmbedding.encoder_version == encoder
                    )
                )
            )
            indexable = conn.execute(
                select(func.count())
                .select_from(PostEmbedding)
                .join(Post, Post.id == PostEmbedding.post_id)
                .where(
                    PostEmbedding.encoder_version == encoder, Post.status.in_(INDEXABLE_STATUSES)
                )
            ).scalar_one()
            statuses = {
                pid: status
                for pid, status in conn.execute(
                    select(Post.id, Post.status).where(Post.id.in_(ids))
                )
            }
    finally:
        engine.dispose()
    return posts, vectors, int(indexable), statuses


@pytest.mark.slow  # two `quanzi serve` starts with two workers each: 1–4 min
def test_acknowledged_posts_survive_kill_9_during_sustained_ingest(
    store: dict[str, Any], tmp_path: Path
) -> None:
    keys = store["keys"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "QUANZI_DATA_DIR": str(tmp_path / "data"),
        "QUANZI_DATABASE_URL": store["url"],
        "QUANZI_ENV": "development",
        "QUANZI_LOG_LEVEL": "warning",
        "QUANZI_TORCH_THREADS": "1",
        "QUANZI_INDEX_SYNC_INTERVAL_MS": "200",
    }
    texts = _texts(2000)
    log_path = tmp_path / "server-1.log"
    with log_path.open("w") as log:
        proc = start_server(env, tmp_path, port, workers=2, log=log, own_group=True)
        try:
            wait_ready(proc, port, ready_streak=6, timeout_s=STARTUP_S, log_path=log_path)
            acked, seen = _ingest_until_killed(
                base, keys, texts, lambda: os.killpg(proc.pid, signal.SIGKILL)
            )
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    print(f"before the kill: {seen}")
    assert len(acked) >= MIN_ACKED, (seen, log_path.read_text()[-2000:])
    assert seen["other"] == 0, seen  # never a 500

    log_path = tmp_path / "server-2.log"
    with log_path.open("w") as log:
        started = time.monotonic()
        proc = start_server(env, tmp_path, port, workers=2, log=log, own_group=True)
        try:
            ready = wait_ready(proc, port, ready_streak=6, timeout_s=STARTUP_S, log_path=log_path)
            to_ready = time.monotonic() - started
            print(f"time to ready after restart (2 workers): {to_ready:.1f} s")
            _check_acknowledged(base, keys, store["url"], acked, ready["models"]["encoder"])
        finally:
            proc.terminate()
            proc.wait(30)
    assert to_ready < STARTUP_S


def _check_acknowledged(
    base: str, keys: dict, url: str, acked: dict[str, str], encoder: str
) -> None:
    ids = sorted(acked)
    stored, with_vector, indexable, statuses = _stored(url, ids, encoder)
    print(f"acknowledged {len(ids)}: {sorted(Counter(statuses.values()).items())}")
    assert stored == set(ids), f"acknowledged but lost: {sorted(set(ids) - stored)[:10]}"
    assert with_vector == set(ids)
    with httpx.Client(base_url=base, timeout=60) as http:
        # The index after startup reconciliation: exactly the store's indexable posts (on
        # every worker reached), and each acknowledged post found by its own text.
        for _ in range(6):
            index = http.get("/v1/admin/models", headers=keys["admin"]).json()["index"]
            assert index["count"] == indexable, (index, indexable)
        for pid in ids:
            hits = http.post(
                "/v1/similar",
                headers=keys["admin"],
                json={"text": acked[pid], "k": 5, "statuses": list(INDEXABLE_STATUSES)},
            ).json()["items"]
            assert pid in {h["post_id"] for h in hits}, (pid, hits[:2])
        # The feed snapshot: every acknowledged post moderation passed is ranked when given.
        passed = [pid for pid in ids if statuses[pid] == "pass"]
        assert passed, statuses
        for start in range(0, len(passed), 200):
            chunk = passed[start : start + 200]
            ranked = http.post(
                "/v1/feed/rank",
                headers=keys["feed-service"],
                json={
                    "viewer_id": "u-1",
                    "circle_id": "c-beauty",
                    "candidate_ids": chunk,
                    "limit": 200,
                    "exclude_seen": False,
                    "params": {"author_cap": 1000, "mmr_lambda": 1.0},
                },
            )
            assert ranked.status_code == 200, ranked.text
            missing = set(chunk) - {item["post_id"] for item in ranked.json()["items"]}
            assert not missing, f"not in the feed snapshot: {sorted(missing)[:10]}"
