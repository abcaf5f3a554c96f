"""``quanzi bench rescore-live``: a rescore under feed load, and how fast serving follows it.

The issue's target: rescore the 5,000-post demo world with a newly promoted moderation
model; every changed decision visible in the feed and hot lists within the refresh
interval, no failed feed request during the run. What it does:

1. copies the developer's bootstrapped store (SQLite, via the backup API) and saved index
   into ``$QUANZI_DATA_DIR/bench/rescore-live``, adds a feed key;
2. starts ``--servers`` ``quanzi serve`` processes of one worker each on that copy, each on
   its own port (so every worker's snapshot is checked, not whichever one a connection
   lands on), with the developer's models;
3. checks the probe itself first: for every stored post and every server, the feed shows
   it exactly when its stored status is ``pass``; fetches every circle's hot list;
4. starts the feed load — the ``quanzi bench feed`` client (``feed_bench``), open loop at
   ``--rate`` requests/s per server, self-sourced feeds of the busiest viewers of the
   largest circle — and then ``quanzi posts rescore --version …`` in its own process;
5. while it runs and until every change is seen (or ``--settle`` seconds after it ends):
   reads which posts changed status in the store — a change's time is the start of the
   last read that did not show it yet, so it is committed after that and a lag measured
   from it is an upper bound (within one probe round); the time the batch began writing
   (``posts.updated_at``, before its transaction's writes) is kept too — and probes
   each server's feed for them (given candidates, a cold-start probe viewer, filters
   other than moderation opened up, so a post is in the answer exactly when the worker's
   snapshot has it passed); a thread fetches the hot lists of the circles with changes,
   round after round (hot lists are SQL per request: their measured lag is mostly the
   length of that round, which the summary reports);
6. reports: posts, changed decisions by label and direction (the rescore's own summary),
   time from write to visibility per (post, server) in the feed and per post in the hot
   lists (max, p99, p50, and how many within the refresh interval), the feed requests and
   failures of the load and of the probes, and the load itself.

A newly passed post is followed in the hot list when the list shows it at the end (a
post without recent engagement never enters one); a newly rejected post when the list
showed it before the run.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from quanzi.evaluation import bench_server
from quanzi.evaluation.bench_server import bench_env, free_port
from quanzi.evaluation.feed_bench import BenchPlan, bodies_for, busiest_circle, busiest_viewers
from quanzi.settings import Settings
from quanzi.storage.api_keys import create_key
from quanzi.storage.db import make_engine, session_factory, upgrade_url
from quanzi.storage.orm import Post

PROBE_VIEWER = "rescore-live-probe"  # unknown: cold start, nothing seen, no feedback
PROBE_CHUNK = 200  # given candidates per probe (the feed's largest list)
# Filters other than moderation opened up, so a probe answer shows every passed candidate.
PROBE_PARAMS = {"author_cap": PROBE_CHUNK, "max_age_days": 36_500, "drop_trust_levels": []}
HOT_LIMIT = 200


@dataclass
class LiveConfig:
    """One run: the versions to rescore with and the load to hold meanwhile."""

    versions: list[str]  # TASK=VERSION, as `quanzi posts rescore --version`
    servers: int = 2
    rate: float = 20.0  # feed requests/s per server, open loop
    concurrency: int = 4  # connections per server
    block_size: int = 250
    settle_s: float = 60.0  # after the rescore, how long changes may take to show
    timeout_s: float = 3600.0
    probe_pause_s: float = 0.05
    # The rescore's CPU niceness: on one shared machine a backfill yields the cores to the
    # servers (on a cluster it runs elsewhere); 0 runs it at the servers' priority.
    rescore_nice: int = 10


@dataclass
class Observations:
    """What the probes saw, with wall-clock times (``time.time()``)."""

    feed_seen: dict[tuple[str, int], float] = field(default_factory=dict)  # (post, server)
    hot: dict[str, list[tuple[float, frozenset[str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    probe_requests: int = 0
    probe_failures: Counter[str] = field(default_factory=Counter)
    confounded: set[str] = field(default_factory=set)  # removed by another filter
    rounds: list[float] = field(default_factory=list)  # feed probe round durations, s
    hot_rounds: list[float] = field(default_factory=list)  # hot-list rounds (all circles), s


# ---------------------------------------------------------------------------- the store
def copy_store(settings: Settings, run_dir: Path) -> Settings:
    """A fresh copy of the developer's SQLite store and saved index in ``run_dir``."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise RuntimeError(
            "the live rescore bench copies a SQLite store; QUANZI_DATABASE_URL points at "
            f"{url.get_backend_name()}"
        )
    source = Path(url.database)
    if not source.is_file():
        raise RuntimeError(f"no store at {source}: run `quanzi bootstrap` first")
    shutil.rmtree(run_dir, ignore_errors=True)
    bench = Settings(data_dir=run_dir, env="development")
    bench.ensure_dirs()
    target = Path(make_url(bench.resolved_database_url).database or run_dir / "quanzi.db")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # consistent even while the developer's server writes
    if settings.index_dir.is_dir():
        shutil.copytree(settings.index_dir, bench.index_dir, dirs_exist_ok=True)
    upgrade_url(bench.resolved_database_url)
    return bench


def statuses(engine: Any) -> dict[str, tuple[str, str, float]]:
    """Every post's (status, circle, time its row was last written)."""
    with engine.connect() as conn:
        rows = conn.execute(select(Post.id, Post.status, Post.circle_id, Post.updated_at))
        return {
            pid: (status, circle, _ts(updated))
            for pid, status, circle, updated in rows  # 5,000 rows: one cheap scan
        }


def _ts(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def load_plan(bench: Settings, run_dir: Path) -> BenchPlan:
    """The feed load's plan: a feed key, the largest circle, its busiest viewers."""
    engine = make_engine(bench.resolved_database_url)
    try:
        with session_factory(engine).begin() as session:
            key = create_key(session, "feed-service", "bench-rescore-live")[1]
            circle = busiest_circle(session)
            viewers = busiest_viewers(session, 500)
            newest = session.scalar(select(func.max(Post.created_at)))
    finally:
        engine.dispose()
    if newest is None:
        raise RuntimeError("the store holds no posts: run `quanzi bootstrap` first")
    as_of = (_aware(newest) + timedelta(minutes=1)).isoformat()
    return BenchPlan(run_dir, key, circle, [], viewers, as_of)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- probes
class Prober:
    """Asks each server's feed and hot lists what they show."""

    def __init__(self, ports: list[int], key: str, as_of: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        self.clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=headers, timeout=30)
            for p in ports
        ]
        self.as_of = as_of
        self.lock = threading.Lock()

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def feed_shows(
        self, server: int, circle: str, post_ids: list[str], obs: Observations
    ) -> set[str] | None:
        """The posts among ``post_ids`` the server's feed would show (None: it failed)."""
        body = {
            "viewer_id": PROBE_VIEWER,
            "circle_id": circle,
            "candidate_ids": post_ids,
            "limit": len(post_ids),
            "exclude_seen": False,
            "as_of": self.as_of,
            "params": PROBE_PARAMS,
        }
        answer = self._call(obs, "POST", server, "/v1/feed/rank", json=body)
        if answer is None:
            return None
        removed = {k: v for k, v in answer["removed"].items() if v and k != "moderation"}
        if removed:
            with self.lock:
                obs.confounded.update(post_ids)
        return {item["post_id"] for item in answer["items"]}

    def hot_list(self, server: int, circle: str, obs: Observations) -> frozenset[str] | None:
        answer = self._call(
            obs,
            "GET",
            server,
            f"/v1/hotlists/{circle}",
            params={"limit": HOT_LIMIT, "at": self.as_of},
        )
        return None if answer is None else frozenset(i["post_id"] for i in answer["items"])

    def _call(self, obs: Observations, method: str, server: int, path: str, **kw: Any) -> Any:
        with self.lock:
            obs.probe_requests += 1
        try:
            response = self.clients[server].request(method, path, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                obs.probe_failures[f"{path}: {type(exc).__name__}"] += 1
            return None
        if response.status_code != 200:
            with self.lock:
                obs.probe_failures[f"{path}: HTTP {response.status_code}"] += 1
            return None
        return response.json()


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), PROBE_CHUNK):
        yield ids[start : start + PROBE_CHUNK]


def mismatches(
    prober: Prober, expected: dict[str, tuple[str, str, float]], servers: int, obs: Observations
) -> int:
    """(post, server) pairs whose feed visibility disagrees with the post's expected
    status: before the run, the probe is only a measure if this is 0; at the end, a change
    that was seen must still be."""
    by_circle: dict[str, list[str]] = defaultdict(list)
    for pid, (_, circle, _) in expected.items():
        by_circle[circle].append(pid)
    wrong = 0
    for server in range(servers):
        for circle, ids in sorted(by_circle.items()):
            for chunk in _chunks(sorted(ids)):
                shown = prober.feed_shows(server, circle, chunk, obs)
                if shown is None:
                    wrong += len(chunk)
                    continue
                wrong += sum((pid in shown) != (expected[pid][0] == "pass") for pid in chunk)
    return wrong


def changed_posts(
    before: dict[str, tuple[str, str, float]], now: dict[str, tuple[str, str, float]]
) -> dict[str, tuple[str, str, float]]:
    """Posts that crossed the line the feed draws — passed before and not now, or the
    reverse: (new status, circle, time written). A review → reject change shows nowhere."""
    return {
        pid: row
        for pid, row in now.items()
        if pid in before and (row[0] == "pass") != (before[pid][0] == "pass")
    }


def probe_feed_round(
    prober: Prober,
    changed: dict[str, tuple[str, str, float]],
    servers: int,
    obs: Observations,
) -> None:
    """Probe every (changed post, server) not yet seen in its new state; record when seen."""
    started = time.perf_counter()
    for server in range(servers):
        todo: dict[str, list[str]] = defaultdict(list)
        for pid, (_, circle, _) in changed.items():
            if (pid, server) not in obs.feed_seen:
                todo[circle].append(pid)
        for circle, ids in todo.items():
            for chunk in _chunks(sorted(ids)):
                shown = prober.feed_shows(server, circle, chunk, obs)
                seen_at = time.time()
                if shown is None:
                    continue
                for pid in chunk:
                    if (pid in shown) == (changed[pid][0] == "pass"):
                        obs.feed_seen[(pid, server)] = seen_at
    obs.rounds.append(time.perf_counter() - started)


def hot_list_watch(
    prober: Prober,
    circles: Callable[[], set[str]],
    servers: int,
    obs: Observations,
    stop: threading.Event,
    pause_s: float,
) -> None:
    """Fetch the hot lists of the circles with changes, round after round, servers in turn."""
    server = 0
    while not stop.is_set():
        started = time.perf_counter()
        for circle in sorted(circles()):
            shown = prober.hot_list(server, circle, obs)
            if shown is not None:
                obs.hot[circle].append((time.time(), shown))
        obs.hot_rounds.append(time.perf_counter() - started)
        server = (server + 1) % servers
        stop.wait(pause_s)


# ---------------------------------------------------------------------------- figures
def hot_list_times(
    changed: dict[str, tuple[str, str, float]],
    hot_before: dict[str, frozenset[str]],
    hot_after: dict[str, frozenset[str]],
    obs: Observations,
    final_at: float,
    since: dict[str, float] | None = None,
) -> dict[str, float]:
    """Per followed post, seconds from its change (``since``, else its write) until the hot
    list showed its new state for good (the first of the observations since that all
    agree with the end)."""
    out: dict[str, float] = {}
    for pid, (status, circle, written) in changed.items():
        written = (since or {}).get(pid, written)
        leaves = status != "pass" and pid in hot_before.get(circle, frozenset())
        enters = status == "pass" and pid in hot_after.get(circle, frozenset())
        if not (leaves or enters):
            continue
        settled = final_at
        for t, shown in reversed(obs.hot.get(circle, [])):
            if t < written or (pid in shown) != enters:
                break
            settled = t
        out[pid] = max(0.0, settled - written)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    x = np.asarray(values)
    return {
        "n": len(values),
        "max_s": round(float(x.max()), 3),
        "p99_s": round(float(np.percentile(x, 99)), 3),
        "p50_s": round(float(np.percentile(x, 50)), 3),
    }


# ---------------------------------------------------------------------------- the run
@contextmanager
def servers_running(
    settings: Settings, bench: Settings, n: int, refresh_ms: int, log: Callable[[str], None]
) -> Iterator[list[int]]:
    """``n`` one-worker ``quanzi serve`` processes on the copy, each on its own port."""
    env = bench_env(settings, bench.data_dir)
    env["QUANZI_FEED_REFRESH_INTERVAL_MS"] = str(refresh_ms)
    with ExitStack() as stack:
        ports = []
        for i in range(n):
            port = free_port()
            log(f"starting server {i} on port {port} …")
            stack.enter_context(
                bench_server.running_server(
                    env,
                    bench.data_dir,
                    port,
                    workers=1,
                    ready_streak=3,
                    log_path=bench.data_dir / f"server-{i}.log",
                    timeout_s=600,
                )
            )
            ports.append(port)
        yield ports


def start_load(
    plan: BenchPlan, port: int, name: str, seconds: float, rate: float, concurrency: int
) -> tuple[subprocess.Popen[bytes], Path]:
    """The feed bench's client process against one server until the stop file appears."""
    plan_file = plan.data_dir / f"plan-{name}.json"
    out_file = plan.data_dir / f"result-{name}.json"
    out_file.unlink(missing_ok=True)
    plan_file.write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "port": port,
                "key": plan.key,
                "mode": name,
                "seconds": seconds,
                "concurrency": concurrency,
                "rate": rate,
                "stop_file": str(plan.data_dir / "stop-load"),
                "bodies": bodies_for(plan, "self"),
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "quanzi.evaluation.feed_bench", str(plan_file), str(out_file)],
        cwd=plan.data_dir,
        env=env,
    )
    return proc, out_file


def run_live(settings: Settings, config: LiveConfig, log: Callable[[str], None] = print) -> dict:
    """The whole run (module docstring); returns the summary as a dict."""
    run_dir = settings.data_dir / "bench" / "rescore-live"
    bench = copy_store(settings, run_dir)
    plan = load_plan(bench, run_dir)
    refresh_ms = settings.feed_refresh_interval_ms
    engine = make_engine(bench.resolved_database_url)
    obs = Observations()
    (run_dir / "stop-load").unlink(missing_ok=True)
    try:
        before = statuses(engine)
        log(f"store copied: {len(before)} posts → {run_dir}")
        with servers_running(settings, bench, config.servers, refresh_ms, log) as ports:
            prober = Prober(ports, plan.key, plan.as_of)
            try:
                mismatched = mismatches(prober, before, config.servers, obs)
                circles = sorted({c for _, c, _ in before.values()})
                hot_before = {c: prober.hot_list(0, c, obs) or frozenset() for c in circles}
                log(f"probe checked against the store: {mismatched} mismatches")
                loads = [
                    start_load(
                        plan, port, f"load-{i}", config.timeout_s, config.rate, config.concurrency
                    )
                    for i, port in enumerate(ports)
                ]
                time.sleep(2.0)  # the load runs before the rescore starts
                result = _rescore_under_probes(
                    settings, bench, config, prober, before, hot_before, obs, log
                )
            finally:
                (run_dir / "stop-load").touch()
                prober.close()
            load_results = []
            for proc, out_file in loads:
                proc.wait(120)
                load_results.append(json.loads(out_file.read_text()))
    finally:
        engine.dispose()
    result.update(
        baseline_mismatches=mismatched,
        servers=config.servers,
        refresh_interval_s=refresh_ms / 1000,
        load=_load_summary(load_results, config),
        probe_requests=obs.probe_requests,
        probe_failures=dict(obs.probe_failures),
        probe_round_s=round(float(np.mean(obs.rounds)), 3) if obs.rounds else None,
        hot_round_s=round(float(np.mean(obs.hot_rounds)), 3) if obs.hot_rounds else None,
        confounded_posts=len(obs.confounded),
    )
    return result


def _rescore_under_probes(
    settings: Settings,
    bench: Settings,
    config: LiveConfig,
    prober: Prober,
    before: dict[str, tuple[str, str, float]],
    hot_before: dict[str, frozenset[str]],
    obs: Observations,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Run ``quanzi posts rescore`` while probing; the figures of the changes."""
    engine = make_engine(bench.resolved_database_url)
    summary_file = bench.data_dir / "rescore.json"
    command = [str(Path(sys.executable).with_name("quanzi")), "posts", "rescore"]
    for v in config.versions:
        command += ["--version", v]
    command += ["--block-size", str(config.block_size), "--json-out", str(summary_file)]
    command += ["--timeout", str(config.timeout_s)]
    changed: dict[str, tuple[str, str, float]] = {}
    # When each change was committed, at the earliest: the start of the last store read
    # that did not show it yet (so a lag measured from it is an upper bound).
    committed: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(
        target=hot_list_watch,
        args=(
            prober,
            lambda: {c for _, c, _ in list(changed.values())},
            config.servers,
            obs,
            stop,
            config.probe_pause_s,
        ),
        daemon=True,
    )
    log("rescoring: " + " ".join(command[1:]))
    with (bench.data_dir / "rescore.log").open("w") as out:
        proc = subprocess.Popen(
            command, cwd=bench.data_dir, env=bench_env(settings, bench.data_dir), stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    # After the start, not in a preexec_fn: the feed load's threads already run here.
    os.setpriority(os.PRIO_PROCESS, proc.pid, config.rescore_nice)
    started, ended = time.time(), None
    last_read = started
    watcher.start()

    def read_changes() -> dict[str, tuple[str, str, float]]:
        nonlocal last_read
        read_at = time.time()
        now = changed_posts(before, statuses(engine))
        for pid in now.keys() - committed.keys():
            committed[pid] = last_read
        last_read = read_at
        return now

    try:
        while True:
            changed = read_changes()
            probe_feed_round(prober, changed, config.servers, obs)
            if ended is None and proc.poll() is not None:
                ended = time.time()
                changed = read_changes()
                log(f"rescore ended (exit {proc.returncode}) after {ended - started:.1f} s")
            all_seen = all(
                (pid, s) in obs.feed_seen for pid in changed for s in range(config.servers)
            )
            if ended is not None and (all_seen or time.time() > ended + config.settle_s):
                break
            if time.time() > started + config.timeout_s:
                proc.kill()
                raise RuntimeError(f"the rescore did not end within {config.timeout_s:.0f} s")
            time.sleep(config.probe_pause_s)
        time.sleep(2 * config.probe_pause_s + 0.5)  # one more hot-list round at least
    finally:
        stop.set()
        watcher.join(60)
    if proc.returncode != 0:
        engine.dispose()
        tail = (bench.data_dir / "rescore.log").read_text()[-2000:]
        raise RuntimeError(f"`quanzi posts rescore` failed ({proc.returncode}):\n{tail}")
    final_at = time.time()
    hot_after = {
        c: prober.hot_list(0, c, obs) or frozenset() for c in {c for _, c, _ in changed.values()}
    }
    final_status = {pid: row[0] for pid, row in statuses(engine).items()}
    engine.dispose()
    bad_in_hot = sum(
        final_status.get(pid) != "pass" for shown in hot_after.values() for pid in shown
    )
    # A last pass: every changed post, every server, in its new state now.
    unseen = [
        (pid, s) for pid in changed for s in range(config.servers) if (pid, s) not in obs.feed_seen
    ]
    probe_feed_round(prober, changed, config.servers, obs)
    regressed = mismatches(prober, changed, config.servers, obs)
    seen = [(pid, t) for (pid, _), t in obs.feed_seen.items() if pid in changed]
    feed_times = [t - committed[pid] for pid, t in seen]
    feed_from_write = [t - changed[pid][2] for pid, t in seen]
    hot_times = hot_list_times(changed, hot_before, hot_after, obs, final_at, committed)
    hot_from_write = hot_list_times(changed, hot_before, hot_after, obs, final_at)
    rescore = json.loads((bench.data_dir / "rescore.json").read_text())
    refresh_s = settings.feed_refresh_interval_ms / 1000
    visible = Counter("enters" if s == "pass" else "leaves" for s, _, _ in changed.values())
    return {
        "posts": len(before),
        "rescore": rescore,
        "rescore_wall_s": round((ended or final_at) - started, 1),
        "visibility_changes": dict(visible),
        "feed_visibility": {
            **percentiles(feed_times),
            "within_refresh_interval": sum(t <= refresh_s for t in feed_times),
            "not_seen_within_settle": len(unseen),
            "regressed": regressed,
            "from_write": percentiles(feed_from_write),
        },
        "hot_list_visibility": {
            **percentiles(list(hot_times.values())),
            "within_refresh_interval": sum(t <= refresh_s for t in hot_times.values()),
            "lists_showing_a_post_that_does_not_pass": bad_in_hot,
            "from_write": percentiles(list(hot_from_write.values())),
        },
    }


def _load_summary(results: list[dict[str, Any]], config: LiveConfig) -> dict[str, Any]:
    rows = [r["result"] for r in results]
    return {
        "mode": "self-sourced feeds, open loop",
        "rate_per_server": config.rate,
        "connections_per_server": config.concurrency,
        "requests": sum(r["requests"] for r in rows),
        "failed": sum(r["errors"] for r in rows),
        "seconds": max((r["seconds"] for r in rows), default=0.0),
        "p99_ms": max((r["p99_ms"] for r in rows), default=0.0),
        "error_samples": sorted({e for r in results for e in r.get("error_samples", [])})[:10],
    }
