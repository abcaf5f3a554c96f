"""``quanzi bench feed``: /v1/feed/rank latency and throughput on loopback, load from a
separate process.

What it does:
1. prepares a data directory of its own (``$QUANZI_DATA_DIR/bench/feed-<world>``): schema,
   the world's public tables (loaded once), the posts backfilled once through the product's
   own path (``quanzi posts backfill``: moderated, scored, embedded and indexed with the
   developer's models — champions when they exist, else the fallbacks), and a feed key;
2. starts the service (``quanzi serve --workers``, see ``bench_server``) as a subprocess on
   127.0.0.1 with the same models and waits until ``/readyz`` answers 200 repeatedly,
   then warms up: every request body once on every connection, unmeasured, so
   each worker's snapshot and viewer-context cache hold every bench viewer;
3. for each mode — ``given`` (``--candidates`` posts of the largest circle sent with each
   request) and ``self`` (the service sources candidates: fresh posts, friends' posts and
   FAISS neighbours of the viewer's interest) — runs the load generator in another process
   (``python -m quanzi.evaluation.feed_bench``): ``--concurrency`` keep-alive HTTP/1.1
   connections in a closed loop for ``--seconds``, each request for a different viewer
   (round robin over the 500 viewers with the most history), and reports p50/p95/p99
   latency, requests per second and errors (non-200 answers and connection failures);
4. measures a viewer-context miss apart (the first request of a viewer a worker has not
   cached: two indexed SQL queries), since the steady state above has none.

The client is a minimal asyncio HTTP/1.1 client on purpose: a general-purpose client
costs more CPU per request than the service does, and it shares the 2 cores with it.
Requests carry ``as_of`` = the world's last simulated minute so every post is in the past
(the world's calendar may be ahead of the machine's clock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quanzi.datasets.world.build import world_dir
from quanzi.datasets.world.load import load_world
from quanzi.evaluation import bench_server
from quanzi.evaluation.bench_server import bench_env
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import settings_session, upgrade_schema
from quanzi.storage.orm import Interaction, Post

try:  # uvicorn[standard] brings it; the load generator runs without it too
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

URL_PATH = "/v1/feed/rank"


@dataclass
class BenchResult:
    mode: str
    seconds: float
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


# ---------------------------------------------------------------------------- client side
def _request_bytes(host: str, port: int, key: str, body: dict[str, Any]) -> bytes:
    return bench_server.post_request(host, port, URL_PATH, key, body)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """Send one request on a keep-alive connection and read the whole answer: its status,
    and whether the server closes the connection after it."""
    status, headers, _ = await bench_server.exchange(reader, writer, request)
    return status, bench_server.server_closes(headers)


_FAILURES = (OSError, ValueError, IndexError, asyncio.IncompleteReadError)


async def _one_connection(
    host: str,
    port: int,
    requests: list[bytes],
    start: int,
    deadline: float,
    latencies: list[float],
    errors: list[str],
    max_requests: int | None = None,
    schedule: asyncio.Queue[float | None] | None = None,
    stop_file: str | None = None,
) -> None:
    """Closed loop (next request when the answer is in), or with ``schedule`` open loop:
    take the next scheduled send time, send, and count latency from that time (so a
    server that falls behind is charged for the wait, not hidden by it)."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    i = start
    while time.perf_counter() < deadline and (max_requests is None or i - start < max_requests):
        if stop_file is not None and os.path.exists(stop_file):
            break
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                errors.append(f"connect: {exc}")
                await asyncio.sleep(0.05)
                continue
        assert reader is not None
        if schedule is not None:
            due = await schedule.get()
            if due is None:
                break
            t0 = due
        else:
            t0 = time.perf_counter()
        request = requests[i % len(requests)]
        i += 1
        try:
            status, closes = await _exchange(reader, writer, request)
        except _FAILURES as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            writer.close()
            reader = writer = None
            continue
        latencies.append(time.perf_counter() - t0)
        if closes:  # the next request goes on a new connection
            writer.close()
            reader = writer = None
        if status != 200:
            errors.append(f"HTTP {status}")
    if writer is not None:
        writer.close()


def drive(
    host: str,
    port: int,
    requests: list[bytes],
    seconds: float,
    concurrency: int,
    max_requests: int | None = None,
    rate: float | None = None,
    stop_file: str | None = None,
) -> tuple[list[float], list[str], float]:
    """Run ``concurrency`` connections for ``seconds``; latencies in seconds.

    Closed loop by default (each connection sends its next request when the answer is in,
    up to ``max_requests``); with ``rate``, open loop: requests are due at a fixed
    ``rate`` per second, taken by whichever connection is free, latency counted from the
    due time — what "sustained N req/s with p99 ≤ X" means. With ``stop_file``, the run
    also ends once that file exists (a load that lasts as long as some other work)."""
    latencies: list[float] = []
    errors: list[str] = []

    async def produce(queue: asyncio.Queue[float | None], start: float) -> None:
        assert rate is not None
        for k in range(int(seconds * rate)):
            if stop_file is not None and os.path.exists(stop_file):
                break
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(due)
        for _ in range(concurrency):
            queue.put_nowait(None)

    async def main() -> float:
        start = time.perf_counter()
        queue: asyncio.Queue[float | None] | None = None
        tasks = []
        if rate is not None:
            queue = asyncio.Queue()
            start += 0.2  # connections open first
            tasks.append(produce(queue, start))
        deadline = start + seconds + (60.0 if rate is not None else 0.0)
        await asyncio.gather(
            *tasks,
            *(
                _one_connection(
                    host,
                    port,
                    requests,
                    k * 7919,
                    deadline,
                    latencies,
                    errors,
                    max_requests,
                    queue,
                    stop_file,
                )
                for k in range(concurrency)
            ),
        )
        return time.perf_counter() - start

    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elapsed = asyncio.run(main())
    return latencies, errors, elapsed


def summarise(
    mode: str, latencies: list[float], errors: list[str], elapsed: float, concurrency: int
) -> BenchResult:
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return BenchResult(
        mode=mode,
        seconds=round(elapsed, 2),
        concurrency=concurrency,
        requests=len(latencies),
        errors=len(errors),
        rps=round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=round(float(np.percentile(ms, 50)), 2),
        p95_ms=round(float(np.percentile(ms, 95)), 2),
        p99_ms=round(float(np.percentile(ms, 99)), 2),
        mean_ms=round(float(ms.mean()), 2),
        max_ms=round(float(ms.max()), 2),
    )


def client_main(argv: list[str] | None = None) -> None:
    """The load generator's process: reads a plan file, writes a result file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    requests = [_request_bytes(plan["host"], plan["port"], plan["key"], b) for b in plan["bodies"]]
    latencies, errors, elapsed = drive(
        plan["host"],
        plan["port"],
        requests,
        plan["seconds"],
        plan["concurrency"],
        plan.get("max_requests"),
        plan.get("rate"),
        plan.get("stop_file"),
    )
    result = summarise(plan["mode"], latencies, errors, elapsed, plan["concurrency"])
    args.out.write_text(
        json.dumps({"result": asdict(result), "error_samples": sorted(set(errors))[:10]})
    )


# ---------------------------------------------------------------------------- server side
@dataclass
class BenchPlan:
    data_dir: Path
    key: str
    circle_id: str
    candidate_ids: list[str]
    viewers: list[str]
    as_of: str
    cold_viewers: list[str] = field(default_factory=list)  # never sent before the cold run


def _count_pending(settings: Any) -> int:
    with settings_session(settings) as session:
        return int(
            session.execute(
                select(func.count()).select_from(Post).where(Post.status == "pending")
            ).scalar_one()
        )


def busiest_circle(session: Session) -> str:
    """The circle with the most passed posts: the feed benches load its feed."""
    return session.execute(
        select(Post.circle_id, func.count())
        .where(Post.status == "pass")
        .group_by(Post.circle_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()[0]


def busiest_viewers(session: Session, n: int) -> list[str]:
    """The ``n`` users with the most interactions (ties by id): the benches' viewers."""
    return list(
        session.scalars(
            select(Interaction.user_id)
            .group_by(Interaction.user_id)
            .order_by(func.count().desc(), Interaction.user_id)
            .limit(n)
        )
    )


def prepare(
    settings: Any,
    world: str,
    candidates: int,
    n_viewers: int = 500,
    n_cold: int = 200,
    echo: Any = print,
    dir_name: str | None = None,
) -> BenchPlan:
    """The bench's own data dir (``bench/<dir_name>``, default ``feed-<world>``) with the
    world loaded, posts backfilled, a feed key."""
    source = world_dir(settings, world)
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"world {world!r} not found in {settings.worlds_dir}: run `quanzi world build` first"
        )
    manifest = json.loads(manifest_path.read_text())
    data_dir = settings.data_dir / "bench" / (dir_name or f"feed-{world}")
    bench = Settings(data_dir=data_dir, env="development")
    bench.ensure_dirs()
    link = bench.worlds_dir / world
    if not link.exists():
        link.symlink_to(source.resolve(), target_is_directory=True)
    upgrade_schema(bench)
    counts = load_world(bench, world, progress=True)
    if any(counts.values()):
        echo(f"loaded world {world} into {data_dir}")
    pending = _count_pending(bench)
    if pending:
        # The product's own path: moderate, score, embed and index with the developer's
        # models, so the bench ranks with real scores, embeddings (interest match, MMR) and
        # the FAISS index behind the similar-posts source.
        echo(f"backfilling {pending} pending posts (`quanzi posts backfill`)")
        subprocess.run(
            [str(Path(sys.executable).with_name("quanzi")), "posts", "backfill"],
            cwd=data_dir,
            env=bench_env(settings, data_dir),
            check=True,
        )
    with settings_session(bench) as session:
        circle_id = busiest_circle(session)
        ids = list(
            session.scalars(
                select(Post.id)
                .where(Post.circle_id == circle_id, Post.status == "pass")
                .order_by(Post.created_at.desc())
                .limit(candidates)
            )
        )
        viewers = busiest_viewers(session, n_viewers + n_cold)
        key = create_key(session, "feed-service", "bench-feed")[1]
    return BenchPlan(
        data_dir, key, circle_id, ids, viewers[:n_viewers], manifest["sim_end"], viewers[n_viewers:]
    )


def scratch_copy(plan: BenchPlan) -> BenchPlan:
    """The plan on a copy of its store (``<data dir>-scratch``), remade before every call.

    A mixed run ingests thousands of posts; on the bench's own store every run would start
    bigger than the last (a slower near-duplicate scan, a bigger snapshot) and no two runs
    would be comparable. The copy takes the database (SQLite's backup API: consistent) and
    the vector index; model caches and worlds are shared through links."""
    source = plan.data_dir
    scratch = source.with_name(f"{source.name}-scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with (
        contextlib.closing(sqlite3.connect(source / "quanzi.db")) as src,
        contextlib.closing(sqlite3.connect(scratch / "quanzi.db")) as dst,
    ):
        src.backup(dst)
    if (source / "index").is_dir():
        shutil.copytree(source / "index", scratch / "index")
    for shared in ("models", "worlds"):
        if (source / shared).exists():
            (scratch / shared).symlink_to((source / shared).resolve(), target_is_directory=True)
    return replace(plan, data_dir=scratch)


def running_server(
    settings: Any, plan: BenchPlan, port: int, workers: int
) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """The bench server on the plan's data dir with the developer's models; ready once every
    worker answered (3 per worker)."""
    return bench_server.running_server(
        bench_env(settings, plan.data_dir),
        plan.data_dir,
        port,
        workers,
        ready_streak=3 * workers,
        log_path=plan.data_dir / "server.log",
    )


def run_client(
    plan: BenchPlan,
    port: int,
    mode: str,
    bodies: list[dict[str, Any]],
    seconds: float,
    concurrency: int,
    max_requests: int | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """One load-generator process; returns its result file's content."""
    plan_file = plan.data_dir / f"plan-{mode}.json"
    out_file = plan.data_dir / f"result-{mode}.json"
    plan_file.write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "port": port,
                "key": plan.key,
                "mode": mode,
                "seconds": seconds,
                "concurrency": concurrency,
                "max_requests": max_requests,
                "rate": rate,
                "bodies": bodies,
            }
        )
    )
    out_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "quanzi.evaluation.feed_bench", str(plan_file), str(out_file)],
        cwd=plan.data_dir,
        env=env,
        check=True,
        timeout=seconds + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(out_file.read_text())
    requests = max(out["result"]["requests"], 1)
    out["result"]["client_cpu_ms_per_request"] = round(
        (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000 / requests, 3
    )
    return out


def warm_up(
    plan: BenchPlan,
    port: int,
    mode: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    timeout_s: float = 600,
) -> dict[str, Any]:
    """Every request body once on every connection, unmeasured: each worker's snapshot and
    viewer-context cache then holds every bench viewer (a keep-alive connection stays on
    one worker), so the measured run sees the steady state of viewers who scroll, not the
    first request of each (whose cost ``quanzi bench feed`` reports apart)."""
    return run_client(
        plan, port, f"{mode}-warmup", bodies, timeout_s, concurrency, max_requests=len(bodies)
    )


def bodies_for(
    plan: BenchPlan, mode: str, limit: int = 20, viewers: list[str] | None = None
) -> list[dict[str, Any]]:
    base = {"circle_id": plan.circle_id, "limit": limit, "as_of": plan.as_of}
    if mode == "given":
        base["candidate_ids"] = plan.candidate_ids
    return [{"viewer_id": v, **base} for v in (plan.viewers if viewers is None else viewers)]


def cold_run(plan: BenchPlan, port: int, mode: str) -> dict[str, Any]:
    """The first request of viewers no worker has cached, one at a time: the latency of a
    viewer-context miss (SQL), which the warmed-up steady state does not contain."""
    bodies = bodies_for(plan, mode, viewers=plan.cold_viewers)
    return run_client(plan, port, f"{mode}-cold", bodies, 600, 1, max_requests=len(bodies))


if __name__ == "__main__":
    client_main()
