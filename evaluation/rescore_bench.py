"""``quanzi bench rescore``: posts/s of ``quanzi posts rescore`` on the local engine and on
Ray (one node, and two nodes on this machine), each on a fresh copy of the same store.

Each configuration runs the real command in a process of its own (``--json-out``), with
the developer's models (``bench_env``). The two-node cluster is two ``ray start``
processes on loopback — a head and a worker node, each with its own temp dir and half of
the CPUs — so the multi-node path (a second raylet, objects moved between nodes) runs,
not only Ray's local mode. The cluster is stopped by the process ids it started, never by
``ray stop`` (which stops every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from quanzi.evaluation.bench_server import bench_env, free_port
from quanzi.evaluation.ingest_bench import review_texts
from quanzi.settings import Settings
from quanzi.storage.db import make_engine, upgrade_url
from quanzi.storage.orm import Circle, Post, User

_INSERT_CHUNK = 5_000


@dataclass
class RescoreBenchRow:
    """One configuration's figures (from the command's ``--json-out``)."""

    config: str
    posts: int
    seconds: float
    posts_per_s: float
    cpu_ms_per_post: float
    memory_mb: float  # peak resident memory of the process (local) or largest actor (Ray)
    load_s: float  # model load (the slowest actor's on Ray), inside ``seconds``
    actors: int
    nodes: int
    wall_s: float  # the command's whole run: start, model load, plan, rescore, index
    changes: dict[str, int]


def prepare_store(
    settings: Settings, path: Path, posts: int, circles: int = 20, authors: int = 2_000
) -> Path:
    """A SQLite store of ``posts`` real review texts, none scored yet (all stale)."""
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade_url(url)
    texts = review_texts(settings, posts)
    rng = random.Random(0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Circle),
                [
                    {"id": f"bc-{i}", "name": f"基准圈{i}", "category": "beauty", "brand": f"B{i}"}
                    for i in range(circles)
                ],
            )
            conn.execute(
                insert(User),
                [
                    {
                        "id": f"bu-{i}",
                        "kind": "creator" if i % 10 == 0 else "user",
                        "creator_certified": i % 10 == 0,
                        "follower_count": i * 37,
                        "account_created_at": start - timedelta(days=400),
                    }
                    for i in range(authors)
                ],
            )
            for lo in range(0, posts, _INSERT_CHUNK):
                conn.execute(
                    insert(Post),
                    [
                        {
                            "id": f"bp-{i:09d}",
                            "circle_id": f"bc-{i % circles}",
                            "author_id": f"bu-{rng.randrange(authors)}",
                            "text": texts[i],
                            "status": "pass",
                            "created_at": start + timedelta(seconds=i),
                            "updated_at": start + timedelta(seconds=i),
                        }
                        for i in range(lo, min(posts, lo + _INSERT_CHUNK))
                    ],
                )
    finally:
        engine.dispose()
    return path


def _pids_of(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (this bench's Ray temp dirs), and
    their descendants."""
    found: set[int] = set()
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
        if marker in cmdline:
            found.add(int(proc.name))
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(os.getpid())
    return sorted(found)


def stop_cluster(marker: str, grace_s: float = 10.0) -> None:
    """Stop the Ray processes this bench started (by pid), SIGKILL after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _pids_of(marker)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while pids and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = _pids_of(marker)
        if not pids:
            return


@contextlib.contextmanager
def ray_cluster(
    nodes: int, cpus: int, env: dict[str, str], timeout_s: float = 180.0
) -> Iterator[str]:
    """A head (and ``nodes - 1`` worker nodes) started with ``ray start`` on loopback, the
    CPUs split between them; yields the address. Each node has a temp dir of its own."""
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    per_node = max(1, cpus // nodes)
    # Short, unique temp dirs: Ray's socket paths must stay under 108 bytes.
    marker = tempfile.mkdtemp(prefix="quanzi-ray-", dir="/tmp")
    common = ["--num-cpus", str(per_node), "--disable-usage-stats"]
    commands = [
        [ray, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard", "false", "--temp-dir", f"{marker}/head", *common],
        *(
            [ray, "start", "--address", address, "--node-ip-address", "127.0.0.1",
             "--temp-dir", f"{marker}/node{i}", *common]
            for i in range(1, nodes)
        ),
    ]  # fmt: skip
    try:
        for command in commands:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"`{' '.join(command[1:4])}` failed: {done.stderr.strip()[-600:]}"
                )
        yield address
    finally:
        stop_cluster(marker)
        shutil.rmtree(marker, ignore_errors=True)


def run_config(
    config: str,
    args: list[str],
    template: Path,
    data_dir: Path,
    env: dict[str, str],
    timeout_s: float,
) -> RescoreBenchRow:
    """``quanzi posts rescore`` on a fresh copy of the store; its figures."""
    store = data_dir / "quanzi.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, store)
    out = data_dir / f"rescore-{config}.json"
    command = [
        str(Path(sys.executable).with_name("quanzi")),
        "posts", "rescore", *args,
        "--timeout", str(int(timeout_s)), "--json-out", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout_s + 120, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{config}: rescore failed: {done.stderr.strip()[-1500:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    kept = data_dir / f"store-{config}.db"  # the result, for comparing configurations
    shutil.copyfile(store, kept)
    posts = int(figures["posts"])
    return RescoreBenchRow(
        config=config,
        posts=posts,
        seconds=float(figures["seconds"]),
        posts_per_s=float(figures["posts_per_s"]),
        cpu_ms_per_post=1000 * float(figures.get("cpu_s", 0.0)) / max(posts, 1),
        memory_mb=float(figures.get("actor_rss_mb") or figures.get("rss_mb") or 0.0),
        load_s=float(figures.get("load_s", 0.0)),
        actors=int(figures.get("actors", 0)),
        nodes=int(figures.get("nodes", 0)),
        wall_s=wall,
        changes=dict(figures.get("changes", {})),
    )


def run_bench(
    settings: Settings,
    posts: int,
    configs: tuple[str, ...] = ("local", "ray-1node", "ray-2nodes"),
    cpus: int | None = None,
    block_size: int = 1000,
    timeout_s: float = 6 * 3600.0,
) -> list[RescoreBenchRow]:
    """Every configuration on a fresh copy of one store of ``posts`` posts."""
    root = settings.data_dir / "bench" / "rescore"
    data_dir = root / "data"
    shutil.rmtree(root, ignore_errors=True)
    data_dir.mkdir(parents=True)
    template = prepare_store(settings, root / "store-template.db", posts)
    onnx = settings.models_dir / "onnx"  # the encoder's int8 export: made once, not per run
    if onnx.is_dir():
        shutil.copytree(onnx, data_dir / "models" / "onnx", copy_function=os.link)
    cpus = cpus or os.cpu_count() or 2
    env = {**bench_env(settings, data_dir), "RAY_AUTH_MODE": "disabled"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    base = ["--block-size", str(block_size)]
    rows = []
    for config in configs:
        if config == "local":
            rows.append(run_config(config, base, template, data_dir, env, timeout_s))
            continue
        nodes = 2 if config == "ray-2nodes" else 1
        with ray_cluster(nodes, cpus, env) as address:
            args = [*base, "--engine", "ray", "--address", address]
            rows.append(run_config(config, args, template, data_dir, env, timeout_s))
    return rows
