"""``quanzi bench soak``: feed ranking, ingest and similar search together for a while, with
the server's memory and open files sampled, on loopback.

What it does:
1. prepares its own data dir (``$QUANZI_DATA_DIR/bench/soak-<world>``) the way
   ``quanzi bench feed`` does — the world loaded and backfilled with the developer's
   models — plus an ingest key and a feed-service key;
2. starts ``quanzi serve --workers N`` there and waits for every worker to be ready;
3. drives three open-loop streams at fixed rates from this process (asyncio + httpx, one
   keep-alive pool per stream): ``POST /v1/feed/rank`` (self-sourced, the world's viewers),
   ``POST /v1/posts`` (batches of real review texts, new ids) and ``POST /v1/similar``
   (texts from the same pool). A request is counted an error unless it is a 2xx;
4. every ``sample_s`` reads the server's RSS and open file descriptors (the main process
   and every worker, from /proc) and reports, after a warm-up, how much each grew.

The bound: RSS may grow by at most ``rss_bound_mib`` plus ``rss_per_post_kib`` for each
post ingested (the index, the snapshot and the recent-vector buffer legitimately hold new
posts), open files by at most ``fd_bound``. Growth is the median of the last fifth of the
samples minus the median of the first fifth after warm-up, so one GC pause does not decide.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from quanzi.evaluation.feed_bench import BenchPlan, bodies_for


@dataclass
class SoakConfig:
    duration_s: float = 300.0
    feed_rate: float = 100.0  # requests/s
    ingest_rate: float = 1.0  # batches/s
    ingest_batch: int = 10  # posts per batch
    similar_rate: float = 10.0  # requests/s
    sample_s: float = 5.0
    warmup_s: float = 20.0
    max_in_flight: int = 64  # per stream: past it a tick is skipped and counted as an error
    rss_bound_mib: float = 64.0
    rss_per_post_kib: float = 8.0
    fd_bound: int = 16


@dataclass
class StreamResult:
    name: str
    requests: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms or [0.0])
        return {
            "stream": self.name,
            "requests": self.requests,
            "per_s": round(self.requests / max(seconds, 1e-9), 1),
            "errors": self.errors,
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "max_ms": round(float(lat.max()), 1),
            "statuses": self.statuses,
            "error_samples": self.error_samples[:5],
        }


@dataclass
class Sample:
    t_s: float
    rss_mib: float
    fds: int


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (the uvicorn workers), from /proc."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(set(out))


def sample_tree(pid: int, t_s: float) -> Sample:
    """RSS (MiB) and open file descriptors, summed over the server's processes."""
    rss_kib, fds = 0, 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kib += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue  # a worker that just exited
    return Sample(round(t_s, 1), round(rss_kib / 1024, 1), fds)


def growth(samples: list[Sample], warmup_s: float) -> dict[str, float]:
    """Median of the last fifth minus median of the first fifth, after the warm-up."""
    steady = [s for s in samples if s.t_s >= warmup_s] or samples
    k = max(1, len(steady) // 5)
    first, last = steady[:k], steady[-k:]
    return {
        "rss_start_mib": statistics.median(s.rss_mib for s in first),
        "rss_end_mib": statistics.median(s.rss_mib for s in last),
        "rss_max_mib": max(s.rss_mib for s in samples),
        "rss_growth_mib": round(
            statistics.median(s.rss_mib for s in last)
            - statistics.median(s.rss_mib for s in first),
            1,
        ),
        "fds_start": statistics.median(s.fds for s in first),
        "fds_end": statistics.median(s.fds for s in last),
        "fds_max": max(s.fds for s in samples),
        "fds_growth": statistics.median(s.fds for s in last)
        - statistics.median(s.fds for s in first),
    }


async def _stream(
    client: httpx.AsyncClient,
    result: StreamResult,
    rate: float,
    bodies: Any,
    path: str,
    deadline: float,
    max_in_flight: int,
) -> None:
    """Fire one request every 1/rate s (open loop) until the deadline; wait for the rest."""
    if rate <= 0:
        return
    pending: set[asyncio.Task[None]] = set()

    async def one(body: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            response = await client.post(path, json=body)
            status = str(response.status_code)
            ok = 200 <= response.status_code < 300
            if not ok and len(result.error_samples) < 20:
                result.error_samples.append(f"{status}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            status, ok = type(exc).__name__, False
            if len(result.error_samples) < 20:
                result.error_samples.append(f"{status}: {exc}")
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.requests += 1
        result.errors += not ok
        result.statuses[status] = result.statuses.get(status, 0) + 1

    start = time.perf_counter()
    for tick in itertools.count():
        due = start + tick / rate
        if due >= deadline:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if len(pending) >= max_in_flight:  # the server is not keeping up: say so
            result.requests += 1
            result.errors += 1
            result.statuses["skipped"] = result.statuses.get("skipped", 0) + 1
            continue
        task = asyncio.create_task(one(next(bodies)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)


async def _sampler(pid: int, every_s: float, deadline: float, out: list[Sample]) -> None:
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        out.append(sample_tree(pid, time.perf_counter() - start))
        await asyncio.sleep(every_s)
    out.append(sample_tree(pid, time.perf_counter() - start))


def ingest_bodies(
    texts: list[str], circle_id: str, authors: list[str], batch: int, run: str
) -> Any:
    """Endless ingest batches of new posts (ids unique to this run)."""
    rng = random.Random(0)
    for n in itertools.count():
        yield {
            "posts": [
                {
                    "id": f"soak-{run}-{n}-{i}",
                    "circle_id": circle_id,
                    "author_id": rng.choice(authors),
                    "text": texts[(n * batch + i) % len(texts)],
                }
                for i in range(batch)
            ]
        }


async def soak(
    port: int,
    server_pid: int,
    plan: BenchPlan,
    ingest_key: str,
    texts: list[str],
    config: SoakConfig,
) -> dict[str, Any]:
    """Run the three streams and the sampler; the figures as a dict."""
    base = f"http://127.0.0.1:{port}"
    feed_key = {"Authorization": f"Bearer {plan.key}"}
    ingest_auth = {"Authorization": f"Bearer {ingest_key}"}
    results = {n: StreamResult(n) for n in ("feed", "ingest", "similar")}
    samples: list[Sample] = []
    feed_bodies = itertools.cycle(bodies_for(plan, "self"))
    similar_bodies = itertools.cycle(
        {"text": t, "k": 10, "circle_id": plan.circle_id} for t in texts[:500]
    )
    run = str(int(time.time()))
    posts = ingest_bodies(texts, plan.circle_id, plan.viewers, config.ingest_batch, run)
    limits = httpx.Limits(max_connections=config.max_in_flight)
    started = time.perf_counter()
    deadline = started + config.duration_s
    async with (
        httpx.AsyncClient(base_url=base, headers=feed_key, timeout=30, limits=limits) as feed,
        httpx.AsyncClient(base_url=base, headers=ingest_auth, timeout=60, limits=limits) as ing,
        httpx.AsyncClient(base_url=base, headers=feed_key, timeout=30, limits=limits) as sim,
    ):
        await asyncio.gather(
            _sampler(server_pid, config.sample_s, deadline, samples),
            _stream(
                feed,
                results["feed"],
                config.feed_rate,
                feed_bodies,
                "/v1/feed/rank",
                deadline,
                config.max_in_flight,
            ),
            _stream(
                ing,
                results["ingest"],
                config.ingest_rate,
                posts,
                "/v1/posts",
                deadline,
                config.max_in_flight,
            ),
            _stream(
                sim,
                results["similar"],
                config.similar_rate,
                similar_bodies,
                "/v1/similar",
                deadline,
                config.max_in_flight,
            ),
        )
    seconds = time.perf_counter() - started
    grew = growth(samples, config.warmup_s)
    ingested = (results["ingest"].requests - results["ingest"].errors) * config.ingest_batch
    rss_bound = config.rss_bound_mib + config.rss_per_post_kib * ingested / 1024
    errors = sum(r.errors for r in results.values())
    return {
        "config": asdict(config),
        "seconds": round(seconds, 1),
        "streams": [r.summary(seconds) for r in results.values()],
        "errors": errors,
        "posts_ingested": ingested,
        "memory": grew,
        "bound": {"rss_growth_mib": round(rss_bound, 1), "fds_growth": config.fd_bound},
        "within_bound": grew["rss_growth_mib"] <= rss_bound
        and grew["fds_growth"] <= config.fd_bound,
        "samples": [asdict(s) for s in samples],
    }


def run_soak(
    port: int,
    server_pid: int,
    plan: BenchPlan,
    ingest_key: str,
    texts: list[str],
    config: SoakConfig,
) -> dict[str, Any]:
    """``soak`` from synchronous code (the CLI)."""
    return asyncio.run(soak(port, server_pid, plan, ingest_key, texts, config))
