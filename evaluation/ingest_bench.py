"""``quanzi bench ingest``: end-to-end ``POST /v1/posts`` throughput on loopback, load from a
separate process, as the platform calls it (one post a request) beside caller batches.

What it does:
1. prepares a disposable data directory (``$QUANZI_DATA_DIR/bench/ingest``, wiped each run):
   schema, ``--circles`` circles, ``--authors`` users (every tenth a certified creator), an
   ingest and an admin key. The service there uses the *developer's* models: the MLflow
   store of ``$QUANZI_DATA_DIR`` (its ``champion`` aliases) and the configured encoder, so
   the figures include whatever models are promoted (``/readyz`` tells which, and the
   report prints them; degraded models make ingest cheaper, so read the figure with them);
2. starts the service (``quanzi serve --workers``) on 127.0.0.1 and waits for ``/readyz``;
3. per mode runs the load generator in another process (``python -m
   quanzi.evaluation.ingest_bench``, a minimal asyncio HTTP/1.1 client on keep-alive
   connections): ``batched`` sends ``--batch`` posts a request over ``--batch-concurrency``
   connections; ``single`` sends one post a request over ``--concurrency`` connections,
   which the service gathers into batches itself. Posts are real review texts from the
   shared corpora, every 20th with a contact detail and every 25th a near-copy of an
   earlier post, so moderation and de-duplication do real work. A 429/503 is counted and
   the post sent again after ``Retry-After``;
4. reports posts/s, per-request latency percentiles, the server-side batch sizes the
   requests were committed in, errors, dropped connections, 429s and 503s, server CPU per
   post, and checks that every acknowledged post is in the store with its vector and that
   the workers' indexes hold what the store says they should.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import shutil
import subprocess
import sys
import time
import zlib
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select

from quanzi.datasets.corpora import load_reviews
from quanzi.evaluation import bench_server
from quanzi.models.index.sync import INDEXABLE_STATUSES
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import downgrade_url, settings_session, upgrade_schema
from quanzi.storage.orm import Circle, Post, PostEmbedding, User

try:  # uvicorn[standard] brings it; the load generator runs without it too
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

CONTACT_EVERY = 20  # every 20th post carries a WeChat id (moderation must reject it)
COPY_EVERY = 25  # every 25th post is a near-copy of an earlier one
READY_STREAK = 30  # consecutive /readyz 200s (new connections) before every worker counts ready


@dataclass
class IngestPlan:
    data_dir: Path
    key: str
    admin_key: str
    circles: list[str]
    authors: list[str]
    database_url: str | None = None


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


def prepare(
    settings: Any, circles: int, authors: int, database_url: str | None = None
) -> IngestPlan:
    """A fresh bench data dir with circles, authors and an ingest key; the store is its
    SQLite file, or ``database_url`` (a disposable database: its tables are dropped and
    made again)."""
    data_dir = settings.data_dir / "bench" / "ingest"
    shutil.rmtree(data_dir, ignore_errors=True)
    bench = Settings(data_dir=data_dir, env="development", database_url=database_url)
    bench.ensure_dirs()
    if database_url is not None:
        downgrade_url(database_url, "base")
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
        _, admin_key = create_key(session, "admin", "bench-admin")
    return IngestPlan(data_dir, key, admin_key, circle_ids, author_ids, database_url)


def make_posts(
    circles: list[str], authors: list[str], texts: list[str], prefix: str, seed: int = 0
) -> list[dict[str, Any]]:
    """One post per text, ids ``<prefix>-<i>``: every 20th carries a contact detail, every
    25th copies an earlier post of its circle (at least one request back)."""
    rng = random.Random(seed)
    posts = []
    for i, text in enumerate(texts):
        if i % CONTACT_EVERY == CONTACT_EVERY - 1:
            text = f"{text} 想要同款加我微信 wx{rng.randint(10**6, 10**7)} 私聊"
        elif i % COPY_EVERY == COPY_EVERY - 1 and i > 2 * len(circles):
            # A copy of an earlier post of the same circle.
            nc = len(circles)
            source = rng.randrange(0, (i - nc) // nc) * nc + i % nc
            text = posts[source]["text"] + "！"
        posts.append(
            {
                "id": f"{prefix}-{i}",
                "circle_id": circles[i % len(circles)],
                "author_id": authors[rng.randrange(len(authors))],
                "text": text,
            }
        )
    return posts


def make_bodies(posts: list[dict[str, Any]], batch: int | None) -> list[Any]:
    """Request bodies: ``{"posts": [...]}`` of ``batch`` posts, or (``None``) one bare
    post a request, as the platform sends them."""
    if batch is None:
        return list(posts)
    return [{"posts": posts[i : i + batch]} for i in range(0, len(posts), batch)]


def running_server(
    env: dict[str, str], data_dir: Path, port: int, workers: int, timeout_s: float = 300
) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """The bench server on ``data_dir``; yields ``/readyz`` once every worker is ready."""
    return bench_server.running_server(
        env, data_dir, port, workers, READY_STREAK, timeout_s=timeout_s
    )


# --------------------------------------------------------------------------- the client
@dataclass
class IngestLoad:
    """What one load-generator run saw (``mode``: ``single`` or ``batched``)."""

    mode: str
    concurrency: int
    rate: float | None
    posts: int  # acknowledged (2xx)
    requests: int  # acknowledged requests
    seconds: float
    posts_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # 5xx other than 503, 4xx other than 429, dropped connections
    dropped: int  # connections that failed mid-request
    refused_429: int
    refused_503: int
    statuses: dict[str, int]
    near_duplicates: int
    batch_sizes: dict[str, int]  # posts in the server-side batch, per acknowledged request
    error_samples: list[str]


_FAILURES = (OSError, ValueError, IndexError, asyncio.IncompleteReadError)
MAX_ATTEMPTS = 20  # a refused request is sent again after Retry-After, at most this often


def drive(
    port: int,
    key: str,
    bodies: list[Any],
    concurrency: int,
    mode: str = "batched",
    rate: float | None = None,
    seconds: float | None = None,
) -> tuple[IngestLoad, list[str]]:
    """Send every body over ``concurrency`` keep-alive connections (closed loop), or with
    ``rate`` at that many requests per second (open loop, latency from the due time);
    stop taking new bodies after ``seconds``. A 429/503 is counted and the body sent
    again after ``Retry-After`` (a well-behaved client). Returns the figures and the ids
    of the acknowledged posts."""
    requests = [bench_server.post_request("127.0.0.1", port, "/v1/posts", key, b) for b in bodies]
    todo: deque[tuple[int, int]] = deque((i, 0) for i in range(len(bodies)))
    latencies: list[float] = []
    errors: list[str] = []
    acked: list[str] = []
    statuses: Counter[str] = Counter()
    batch_sizes: Counter[str] = Counter()
    counts = Counter[str]()
    in_flight = 0

    async def connection(schedule: asyncio.Queue[float | None] | None, stop: float) -> None:
        nonlocal in_flight
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.perf_counter() < stop:
            if not todo:
                if in_flight:  # a refused body may come back
                    await asyncio.sleep(0.05)
                    continue
                break
            if schedule is not None:
                due = await schedule.get()
                if due is None:
                    break
                t0 = due
            if not todo:
                continue
            index, attempt = todo.popleft()
            in_flight += 1
            try:
                if writer is None:
                    try:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    except OSError as exc:
                        errors.append(f"connect: {exc}")
                        todo.appendleft((index, attempt))
                        await asyncio.sleep(0.05)
                        continue
                assert reader is not None
                if schedule is None:
                    t0 = time.perf_counter()
                try:
                    status, headers, payload = await bench_server.exchange(
                        reader, writer, requests[index]
                    )
                except _FAILURES as exc:
                    counts["dropped"] += 1
                    errors.append(f"dropped: {type(exc).__name__}: {exc}")
                    writer.close()
                    reader = writer = None
                    continue  # not acknowledged: the post counts nowhere
                if bench_server.server_closes(headers):  # the next one on a new connection
                    writer.close()
                    reader = writer = None
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                    answer = json.loads(payload)
                    for r in answer["results"]:
                        statuses[r["status"]] += 1
                        counts["dupes"] += r["near_duplicate_of"] is not None
                        acked.append(r["post_id"])
                    batch_sizes[headers.get(b"x-quanzi-batch-posts", b"?").decode()] += 1
                elif status in (429, 503):
                    counts[f"refused_{status}"] += 1
                    wait = float(headers.get(b"retry-after", b"1"))
                    if attempt + 1 < MAX_ATTEMPTS:
                        await asyncio.sleep(wait)
                        todo.append((index, attempt + 1))
                    else:
                        errors.append(f"HTTP {status} {MAX_ATTEMPTS} times")
                else:
                    errors.append(f"HTTP {status}: {payload[:200].decode(errors='replace')}")
            finally:
                in_flight -= 1
        if writer is not None:
            writer.close()

    async def produce(queue: asyncio.Queue[float | None], start: float, stop: float) -> None:
        assert rate is not None
        k = 0
        while True:
            due = start + k / rate
            if due >= stop or (not todo and not in_flight):
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(due)
            k += 1
        for _ in range(concurrency):
            queue.put_nowait(None)

    async def main() -> float:
        start = time.perf_counter()
        stop = start + (seconds if seconds is not None else 10**9)
        queue: asyncio.Queue[float | None] | None = None
        tasks = []
        if rate is not None:
            queue = asyncio.Queue()
            tasks.append(produce(queue, start, stop))
        # Open loop: connections drain what was scheduled before ``stop``.
        until = stop + 60 if rate is not None else stop
        await asyncio.gather(*tasks, *(connection(queue, until) for _ in range(concurrency)))
        return time.perf_counter() - start

    if uvloop is not None:  # the load generator shares the cores: keep it cheap
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elapsed = asyncio.run(main())
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    load = IngestLoad(
        mode=mode,
        concurrency=concurrency,
        rate=rate,
        posts=len(acked),
        requests=len(latencies),
        seconds=round(elapsed, 2),
        posts_per_s=round(len(acked) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(float(np.percentile(ms, 50)), 1),
        p95_ms=round(float(np.percentile(ms, 95)), 1),
        p99_ms=round(float(np.percentile(ms, 99)), 1),
        max_ms=round(float(ms.max()), 1),
        errors=len(errors),
        dropped=counts["dropped"],
        refused_429=counts["refused_429"],
        refused_503=counts["refused_503"],
        statuses=dict(statuses),
        near_duplicates=counts["dupes"],
        batch_sizes=dict(sorted(batch_sizes.items(), key=lambda kv: _int_or(kv[0]))),
        error_samples=sorted(set(errors))[:5],
    )
    return load, acked


def _int_or(text: str) -> int:
    return int(text) if text.isdigit() else 10**9


def run_client(
    data_dir: Path,
    env: dict[str, str],
    port: int,
    key: str,
    bodies: list[Any],
    concurrency: int,
    name: str,
    mode: str = "batched",
    rate: float | None = None,
    seconds: float | None = None,
    wait: bool = True,
) -> Any:
    """The load generator as a separate process; returns its result (with the acknowledged
    ids and the client's CPU per post), or with ``wait=False`` a callable that does."""
    plan_file, out_file = data_dir / f"{name}-plan.json", data_dir / f"{name}-result.json"
    plan_file.write_text(
        json.dumps(
            {
                "port": port,
                "key": key,
                "bodies": bodies,
                "concurrency": concurrency,
                "mode": mode,
                "rate": rate,
                "seconds": seconds,
            },
            ensure_ascii=False,
        )
    )
    out_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quanzi.evaluation.ingest_bench", str(plan_file), str(out_file)],
        cwd=data_dir,
        env=env,
    )

    def finish() -> dict[str, Any]:
        code = proc.wait(timeout=3600)
        if code != 0:
            raise RuntimeError(f"the ingest load generator exited with {code}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = json.loads(out_file.read_text())
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        out["result"]["client_cpu_ms_per_post"] = round(
            cpu * 1000 / max(out["result"]["posts"], 1), 3
        )
        return out

    return finish() if wait else finish


def client_main(argv: list[str] | None = None) -> None:
    """Entry point of the load-generator process: plan file in, result file out."""
    plan_file, out_file = (argv or sys.argv[1:])[:2]
    plan = json.loads(Path(plan_file).read_text())
    result, acked = drive(
        plan["port"],
        plan["key"],
        plan["bodies"],
        plan["concurrency"],
        plan.get("mode", "batched"),
        plan.get("rate"),
        plan.get("seconds"),
    )
    Path(out_file).write_text(json.dumps({"result": asdict(result), "acked": acked}))


def mixed_ingest(
    settings: Settings,
    data_dir: Path,
    circle_id: str,
    authors: list[str],
    posts: int,
    prefix: str,
) -> tuple[str, list[dict[str, Any]]]:
    """For a mixed run beside ``quanzi bench feed``: an ingest key in that bench's store and
    ``posts`` one-post bodies by the world's users in the feed's circle."""
    bench = Settings(data_dir=data_dir, env="development")
    with settings_session(bench) as session:
        _, key = create_key(session, "ingest", f"bench-mixed-{prefix}")
    texts = review_texts(settings, posts, seed=zlib.crc32(prefix.encode()))
    return key, make_posts([circle_id], authors, texts, prefix)


# --------------------------------------------------------------------------- a whole run
@dataclass
class IngestBenchOptions:
    modes: tuple[str, ...] = ("batched", "single")
    posts: int = 3000  # measured posts per mode
    warmup: int = 300
    batch: int = 100  # posts per request, batched mode
    batch_concurrency: int = 2
    concurrency: int = 16  # connections, single mode
    workers: int = 2
    circles: int = 5
    authors: int = 500
    seconds: float | None = None  # stop sending after this long (per mode)
    rate: float | None = None  # open loop, requests per second
    database_url: str | None = None  # a disposable database instead of the SQLite file


def run_bench(settings: Settings, options: IngestBenchOptions, echo: Any = print) -> dict[str, Any]:
    """Prepare, start the server, warm up, run each mode, check what was acknowledged."""
    modes = options.modes
    texts = review_texts(settings, options.warmup + options.posts * len(modes))
    plan = prepare(settings, options.circles, options.authors, options.database_url)
    env = bench_server.bench_env(settings, plan.data_dir)
    if plan.database_url is not None:
        env["QUANZI_DATABASE_URL"] = plan.database_url
    port = bench_server.free_port()
    echo(f"bench data dir {plan.data_dir}; starting {options.workers} worker(s) …")
    results: dict[str, Any] = {}
    acked: list[str] = []
    with running_server(env, plan.data_dir, port, options.workers) as ready:
        echo(
            f"models: {ready.get('models')}; degraded: "
            f"{[d['model'] for d in ready.get('degraded', [])] or 'none'}"
        )
        if options.warmup:
            warm = make_posts(plan.circles, plan.authors, texts[: options.warmup], "warm")
            run_client(plan.data_dir, env, port, plan.key, make_bodies(warm, 20), 2, "warmup")
        for n, mode in enumerate(modes):
            start = options.warmup + n * options.posts
            posts = make_posts(
                plan.circles, plan.authors, texts[start : start + options.posts], mode, seed=n
            )
            single = mode == "single"
            concurrency = options.concurrency if single else options.batch_concurrency
            echo(
                f"{mode}: {len(posts)} posts, "
                + ("one a request" if single else f"{options.batch} a request")
                + f", {concurrency} connections"
                + (f", open loop at {options.rate:g} req/s" if options.rate else "")
                + (f", at most {options.seconds:g} s" if options.seconds else "")
                + " …"
            )
            cpu_before = bench_server.process_cpu_seconds(ready["_server_pid"])
            out = run_client(
                plan.data_dir,
                env,
                port,
                plan.key,
                make_bodies(posts, None if single else options.batch),
                concurrency,
                mode,
                mode=mode,
                rate=options.rate,
                seconds=options.seconds,
            )
            cpu_after = bench_server.process_cpu_seconds(ready["_server_pid"])
            result = out["result"]
            if cpu_before is not None and cpu_after is not None:
                result["server_cpu_ms_per_post"] = round(
                    (cpu_after - cpu_before) * 1000 / max(result["posts"], 1), 2
                )
            results[mode] = result
            acked += out["acked"]
        time.sleep(settings.index_sync_interval_ms / 1000 + 1.0)  # every worker's index syncs
        sizes = index_sizes(port, plan.admin_key)
    encoder = (ready.get("models") or {}).get("encoder")
    bench = Settings(data_dir=plan.data_dir, env="development", database_url=plan.database_url)
    check = verify_acknowledged(bench, acked, None if encoder == "unavailable" else encoder)
    check["index_vectors_seen"] = sorted(set(sizes))
    return {"ready": ready, "results": results, "check": check, "data_dir": str(plan.data_dir)}


# --------------------------------------------------------------------------- afterwards
def verify_acknowledged(
    settings: Settings, acked: list[str], encoder_version: str | None
) -> dict[str, int]:
    """Every acknowledged post must be in the store (with its vector when an encoder ran):
    how many are missing, and how many posts the index should hold."""
    missing = missing_vector = 0
    with settings_session(settings) as session:
        for start in range(0, len(acked), 5000):
            chunk = acked[start : start + 5000]
            found = set(session.scalars(select(Post.id).where(Post.id.in_(chunk))))
            missing += len(set(chunk) - found)
            if encoder_version is not None:
                with_vector = set(
                    session.scalars(
                        select(PostEmbedding.post_id).where(
                            PostEmbedding.post_id.in_(chunk),
                            PostEmbedding.encoder_version == encoder_version,
                        )
                    )
                )
                missing_vector += len(found - with_vector)
        indexable = 0
        if encoder_version is not None:
            indexable = int(
                session.execute(
                    select(func.count())
                    .select_from(PostEmbedding)
                    .join(Post, Post.id == PostEmbedding.post_id)
                    .where(
                        PostEmbedding.encoder_version == encoder_version,
                        Post.status.in_(INDEXABLE_STATUSES),
                    )
                ).scalar_one()
            )
    return {
        "acknowledged": len(acked),
        "missing_from_store": missing,
        "missing_vector": missing_vector,
        "store_indexable": indexable,
    }


def index_sizes(port: int, admin_key: str, tries: int = 12) -> list[int]:
    """Vectors in the index of the workers reached over ``tries`` fresh connections."""
    sizes = []
    for _ in range(tries):
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/admin/models",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )
        index = response.json().get("index") or {}
        sizes.append(int(index.get("count", -1)))
    return sizes


if __name__ == "__main__":
    client_main()
