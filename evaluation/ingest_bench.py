"""``quanzi bench ingest``: end-to-end ``POST /v1/posts`` throughput on loopback, load from a
separate process.

What it does:
1. prepares a disposable data directory (``$QUANZI_DATA_DIR/bench/ingest``, wiped each run):
   schema, ``--circles`` circles, ``--authors`` users (every tenth a certified creator) and
   an ingest key. The service there uses the *developer's* models: the MLflow store of
   ``$QUANZI_DATA_DIR`` (its ``champion`` aliases) and the configured encoder, so the
   figures include whatever models are promoted (``/readyz`` tells which, and the report
   prints them; degraded models make ingest cheaper, so read the figure with them);
2. starts the service (``quanzi serve``-equivalent uvicorn, ``--workers``) on 127.0.0.1
   and waits for ``/readyz`` (models loaded);
3. runs the load generator in another process (``python -m quanzi.evaluation.ingest_bench``
   from the data dir): ``--concurrency`` keep-alive connections each sending batches of
   ``--batch`` posts — real review texts from the shared corpora, every 20th with a contact
   detail and every 25th a near-copy of an earlier post, so moderation and de-duplication
   do real work — until ``--posts`` posts are stored; reports posts/s, batch latency
   percentiles, errors and the status mix.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from quanzi.datasets.corpora import load_reviews
from quanzi.evaluation import bench_server
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import settings_session, upgrade_schema
from quanzi.storage.orm import Circle, User

CONTACT_EVERY = 20  # every 20th post carries a WeChat id (moderation must reject it)
COPY_EVERY = 25  # every 25th post is a near-copy of an earlier one
READY_STREAK = 30  # consecutive /readyz 200s (new connections) before every worker counts ready


@dataclass
class IngestBenchResult:
    posts: int
    batches: int
    batch_size: int
    concurrency: int
    seconds: float
    posts_per_s: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    near_duplicates: int
    error_samples: list[str]


@dataclass
class IngestPlan:
    data_dir: Path
    key: str
    circles: list[str]
    authors: list[str]


# --------------------------------------------------------------------------- preparing
def review_texts(settings: Any, n: int, seed: int = 0) -> list[str]:
    """``n`` real review texts (shopping, delivery, hotel), 8–300 characters."""
    df = load_reviews(settings.corpora_dir)
    texts = [t for t in df["text"].tolist() if 8 <= len(t) <= 300]
    rng = random.Random(seed)
    rng.shuffle(texts)
    if len(texts) < n:
        texts = texts * (n // max(len(texts), 1) + 1)
    return texts[:n]


def prepare(settings: Any, circles: int, authors: int) -> IngestPlan:
    """A fresh bench data dir with circles, authors and an ingest key."""
    data_dir = settings.data_dir / "bench" / "ingest"
    shutil.rmtree(data_dir, ignore_errors=True)
    bench = Settings(data_dir=data_dir, env="development")
    bench.ensure_dirs()
    upgrade_schema(bench)
    circle_ids = [f"bench-c{i}" for i in range(circles)]
    author_ids = [f"bench-u{i}" for i in range(authors)]
    created = datetime.now(UTC) - timedelta(days=400)
    with settings_session(bench) as session:
        session.add_all(
            Circle(id=c, name=f"基准圈{i}", category="beauty", brand=f"B{i}")
            for i, c in enumerate(circle_ids)
        )
        session.add_all(
            User(
                id=u,
                kind="creator" if i % 10 == 0 else "user",
                creator_certified=i % 10 == 0,
                follower_count=i * 37,
                account_created_at=created,
            )
            for i, u in enumerate(author_ids)
        )
        _, key = create_key(session, "ingest", "bench")
    return IngestPlan(data_dir, key, circle_ids, author_ids)


def make_batches(
    plan: IngestPlan, texts: list[str], batch: int, seed: int = 0
) -> list[dict[str, Any]]:
    """Request bodies of ``batch`` posts each, ids unique to this run."""
    rng = random.Random(seed)
    posts = []
    for i, text in enumerate(texts):
        if i % CONTACT_EVERY == CONTACT_EVERY - 1:
            text = f"{text} 想要同款加我微信 wx{rng.randint(10**6, 10**7)} 私聊"
        elif i % COPY_EVERY == COPY_EVERY - 1 and i > batch + len(plan.circles):
            # A copy of an earlier post of the same circle (an earlier batch, so indexed).
            nc = len(plan.circles)
            source = rng.randrange(0, (i - batch) // nc) * nc + i % nc
            text = posts[source]["text"] + "！"
        posts.append(
            {
                "id": f"bp-{i}",
                "circle_id": plan.circles[i % len(plan.circles)],
                "author_id": plan.authors[rng.randrange(len(plan.authors))],
                "text": text,
            }
        )
    return [{"posts": posts[i : i + batch]} for i in range(0, len(posts), batch)]


def running_server(
    env: dict[str, str], data_dir: Path, port: int, workers: int, timeout_s: float = 300
) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """The bench server on ``data_dir``; yields ``/readyz`` once every worker is ready."""
    return bench_server.running_server(
        env, data_dir, port, workers, READY_STREAK, timeout_s=timeout_s
    )


# --------------------------------------------------------------------------- the client
def drive(port: int, key: str, bodies: list[dict[str, Any]], concurrency: int) -> IngestBenchResult:
    """Send every batch over ``concurrency`` keep-alive connections; time them."""
    latencies: list[float] = []
    errors: list[str] = []
    statuses: Counter[str] = Counter()
    dupes = 0
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def worker() -> None:
        nonlocal dupes
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=300,
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop(0)
                start = time.perf_counter()
                try:
                    response = client.post("/v1/posts", json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - start
                with lock:
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                        continue
                    latencies.append(elapsed)
                    for r in response.json()["results"]:
                        statuses[r["status"]] += 1
                        dupes += r["near_duplicate_of"] is not None

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    posts = sum(statuses.values())
    return IngestBenchResult(
        posts=posts,
        batches=len(latencies),
        batch_size=len(bodies[0]["posts"]) if bodies else 0,
        concurrency=concurrency,
        seconds=round(seconds, 2),
        posts_per_s=round(posts / seconds, 1) if seconds else 0.0,
        errors=len(errors),
        p50_ms=round(float(np.percentile(ms, 50)), 1),
        p95_ms=round(float(np.percentile(ms, 95)), 1),
        p99_ms=round(float(np.percentile(ms, 99)), 1),
        max_ms=round(float(ms.max()), 1),
        statuses=dict(statuses),
        near_duplicates=dupes,
        error_samples=errors[:3],
    )


def run_client(
    data_dir: Path,
    env: dict[str, str],
    port: int,
    key: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    name: str,
) -> dict[str, Any]:
    """The load generator as a separate process; returns its result."""
    plan_file, out_file = data_dir / f"{name}-plan.json", data_dir / f"{name}-result.json"
    plan_file.write_text(
        json.dumps(
            {"port": port, "key": key, "bodies": bodies, "concurrency": concurrency},
            ensure_ascii=False,
        )
    )
    out_file.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "quanzi.evaluation.ingest_bench", str(plan_file), str(out_file)],
        cwd=data_dir,
        env=env,
        check=True,
        timeout=3600,
    )
    return json.loads(out_file.read_text())


def client_main(argv: list[str] | None = None) -> None:
    """Entry point of the load-generator process: plan file in, result file out."""
    plan_file, out_file = (argv or sys.argv[1:])[:2]
    plan = json.loads(Path(plan_file).read_text())
    result = drive(plan["port"], plan["key"], plan["bodies"], plan["concurrency"])
    Path(out_file).write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    client_main()
