"""The service as a benchmark target: ``quanzi serve`` on loopback in its own process.

Shared by ``quanzi bench feed`` and ``quanzi bench ingest`` so both measure the same server
the same way, started the way users start it (``quanzi serve``: a listener per worker),
from the bench data dir (never the checkout root, so ``datasets/`` cannot shadow Hugging
Face's), ready only after a run of ``/readyz`` 200s (a fresh
connection may reach any worker, and each worker loads its models in the background).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def bench_env(settings: Any, data_dir: Path) -> dict[str, str]:
    """The server's environment: the bench data dir, the developer's models (MLflow
    registry, encoder), quiet logs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("QUANZI_") and k != "MLFLOW_TRACKING_URI"
    }
    env.update(
        QUANZI_DATA_DIR=str(data_dir),
        QUANZI_ENV="development",
        QUANZI_LOG_LEVEL="warning",
        MLFLOW_TRACKING_URI=settings.resolved_mlflow_uri,
        QUANZI_TORCH_THREADS=str(settings.torch_threads),
        QUANZI_ONNX_THREADS=str(settings.onnx_threads),
        QUANZI_ENCODER_RUNTIME=settings.encoder_runtime,
        QUANZI_INDEX_SYNC_INTERVAL_MS=str(settings.index_sync_interval_ms),
    )
    if settings.encoder:
        env["QUANZI_ENCODER"] = settings.encoder
    return env


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (the
    workers), from /proc; None where /proc is not available. Lets a bench report CPU per
    request, which is less at the mercy of other load on the machine than latency is."""
    clock = os.sysconf("SC_CLK_TCK")
    total, stack, seen = 0.0, [pid], set()
    try:
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / clock
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
    except (OSError, ValueError, IndexError):
        return None if not seen else total
    return total


def post_request(host: str, port: int, path: str, key: str, body: Any) -> bytes:
    """The bytes of one keep-alive HTTP/1.1 ``POST`` of ``body`` as JSON."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


def server_closes(headers: dict[bytes, bytes]) -> bool:
    """Whether the answer says the server closes the connection after it (``Connection:
    close``, e.g. ``serving/connection_balance.py`` moving a client to another worker):
    the client reconnects, as any HTTP client's pool does."""
    return headers.get(b"connection", b"").strip().lower() == b"close"


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send one request on a keep-alive connection and read the whole answer: its status,
    headers (lower-case names) and body. The benches' load generators use this minimal
    client on purpose: a general-purpose one costs more CPU per request than the service
    does, and it shares the cores with it."""
    writer.write(request)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[bytes, bytes] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    env: dict[str, str],
    data_dir: Path,
    port: int,
    workers: int,
    log: Any,
    own_group: bool = False,
) -> subprocess.Popen[bytes]:
    """``quanzi serve`` on loopback from ``data_dir``; with ``own_group`` in a process group
    of its own, so ``os.killpg`` reaches the supervisor and every worker at once."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("quanzi")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        cwd=data_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=own_group,
    )


def wait_ready(
    proc: subprocess.Popen[bytes],
    port: int,
    ready_streak: int,
    timeout_s: float,
    log_path: Path,
    workers: int = 1,
) -> dict[str, Any]:
    """Wait for ``ready_streak`` consecutive ``/readyz`` 200s from ``workers`` distinct
    workers; the last answer's body. A worker still importing has no listener yet, so
    every probe reaches the others: without counting workers, a run began while one was
    still loading its models, and that load was billed to the first measured mode."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    ready: dict[str, Any] = {}
    seen: set[Any] = set()
    while streak < ready_streak or len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"not ready in {timeout_s:g} s ({len(seen)} of {workers} workers answered "
                f"ready); see {log_path}"
            )
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                ready = json.loads(r.read())
                streak += 1
                seen.add(ready.get("worker", len(seen)))  # an older server: count answers
                continue
        except OSError:
            streak = 0
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready in {timeout_s:g} s; see {log_path}") from None
            time.sleep(0.3)
    ready["_server_pid"] = proc.pid  # for process_cpu_seconds (not part of /readyz)
    return ready


@contextlib.contextmanager
def running_server(
    env: dict[str, str],
    data_dir: Path,
    port: int,
    workers: int,
    ready_streak: int,
    log_path: Path | None = None,
    timeout_s: float = 300,
) -> Iterator[dict[str, Any]]:
    """Start the server, wait for ``ready_streak`` consecutive ready answers, yield the last
    ``/readyz`` body; stop the server on exit."""
    log_path = log_path or data_dir / "server.log"
    log = log_path.open("w")
    proc = start_server(env, data_dir, port, workers, log)
    try:
        yield wait_ready(proc, port, ready_streak, timeout_s, log_path, workers)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
