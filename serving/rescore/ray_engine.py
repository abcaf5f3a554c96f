"""The Ray engine: Ray Data reads the store in id ranges, an actor pool rescores them.

- ``StoreBlocks`` is a Ray Data datasource with one read task per planned block; each read
  task opens its own database connection (``NullPool``), reads its id range with
  ``plan.read_block`` and yields it as one Ray block (each row a JSON string, so no column
  type is coerced on the way).
- ``map_batches`` runs ``RescoreActor`` on an actor pool, one whole block per call
  (``batch_size=None``). Each actor loads the chosen versions once, by version from the
  MLflow registry's cache (``Job.loader``), and writes its batches itself through
  ``batch.rescore_batch`` — the same function the local engine calls.
- The pool is sized from the cluster's CPUs so that read tasks always get a CPU: with Ray
  2.60 on ``ray.init(num_cpus=2)`` two 1-CPU actors starved the read task and the run hung
  without an error (``pool_size``); every run has a time limit that fails loudly.
"""

from __future__ import annotations

import _thread
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import pandas as pd
import ray
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask
from sqlalchemy.pool import NullPool

from quanzi.serving.rescore.batch import BatchOutcome, rescore_batch
from quanzi.serving.rescore.local import Job, RescoreTimeout, Summary, peak_rss_mb
from quanzi.serving.rescore.plan import Block, finish_run, read_block
from quanzi.storage.db import session_factory

COLUMNS = ["block", "row"]


class RayUnavailable(ConnectionError):
    """No Ray cluster at the address given; the message says how to start one."""


def pool_size(cpus: float) -> tuple[int, float]:
    """(actors, CPUs per actor) for a cluster of ``cpus``: one CPU stays free for the
    read tasks (two 1-CPU actors on 2 CPUs starved the read and hung)."""
    if cpus >= 3:
        return int(cpus) - 1, 1.0
    if cpus >= 2:
        return 1, 1.0
    return 1, max(cpus / 2, 0.1)


def _read(job: Job, block: Block) -> Iterable[pd.DataFrame]:
    """One read task: its own connection, one id range, one Ray block."""
    engine = job.engine(poolclass=NullPool)
    try:
        rows = read_block(
            session_factory(engine),
            block,
            job.plan.selection,
            job.plan.key,
            job.plan.versions.get("encoder"),
        )
    finally:
        engine.dispose()
    # An empty range still yields its block id, so the driver knows it was read.
    yield pd.DataFrame(
        [{"block": block.block, "row": json.dumps(r, ensure_ascii=False)} for r in rows]
        or [{"block": block.block, "row": ""}],
        columns=COLUMNS,
    )


class StoreBlocks(Datasource):
    """The plan's blocks as a Ray Data datasource (one read task per id range)."""

    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        return [
            ReadTask(
                partial(_read, self.job, block),
                BlockMetadata(
                    num_rows=block.posts, size_bytes=None, input_files=None, exec_stats=None
                ),
            )
            for block in self.job.plan.blocks
        ]


class RescoreActor:
    """Holds the chosen models (loaded once, here) and a connection pool of its own."""

    def __init__(self, job: Job) -> None:
        loading = time.perf_counter()
        self.models = job.loader(job.settings, job.plan.versions)
        self.load_s = time.perf_counter() - loading
        self.engine = job.engine(pool_size=1, max_overflow=1)
        self.sessions = session_factory(self.engine)
        self.run_id = job.plan.run_id

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        cpu = time.process_time()
        rows = [json.loads(r) for r in batch["row"] if r]
        outcome = rescore_batch(self.sessions, self.models, self.run_id, rows)
        blocks = sorted({int(b) for b in batch["block"]})
        usage = {
            "cpu_s": time.process_time() - cpu,
            "rss_mb": peak_rss_mb(),
            "load_s": self.load_s,
        }
        return pd.DataFrame([{**outcome.as_row(), "blocks": json.dumps(blocks), **usage}])


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast and clearly when a ``ray://host:port`` or ``host:port`` address has no
    listener (Ray's own client would retry for a long while)."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(
            f"Ray address {address!r} is not auto, local, ray://host:port or host:port"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(
            f"no Ray cluster at {address} ({exc}); start one with `ray start --head` "
            "or use --address local"
        ) from exc


def connect(address: str, num_cpus: int | None = None) -> dict[str, float]:
    """Join (or, for ``local``, start) the Ray cluster; returns its resources."""
    if not ray.is_initialized():
        check_address(address)
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,  # the command shows its own progress
        }
        try:
            if address == "local":
                ray.init(num_cpus=num_cpus, **kwargs)
            else:
                ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise RayUnavailable(
                f"no Ray cluster at {address!r} ({str(exc).splitlines()[0]}); start one "
                "with `ray start --head` or use --address local"
            ) from exc
    return dict(ray.cluster_resources())


def run_ray(
    job: Job,
    progress: Callable[[int], None] | None = None,
    timeout_s: float = 3600.0,
    actors: int | None = None,
) -> Summary:
    """Process the plan on the connected Ray cluster (``connect`` first)."""
    started = time.perf_counter()
    resources = dict(ray.cluster_resources())
    n_actors, actor_cpus = pool_size(float(resources.get("CPU", 1.0)))
    if actors is not None:
        n_actors = actors
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    summary = Summary(
        "ray",
        detail={
            "nodes": nodes,
            "cpus": resources.get("CPU", 0.0),
            "actors": n_actors,
            "cpus_per_actor": actor_cpus,
            "cpu_s": 0.0,  # CPU seconds the actors spent in their batches
            "actor_rss_mb": 0.0,  # the largest actor's peak resident memory
            "load_s": 0.0,  # the slowest actor's model load
        },
    )
    if not job.plan.blocks:
        finish_run_engine(job, [])
        return summary
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command shows its own progress
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # One Ray block per id range: without the count, Ray splits read outputs to reach its
    # own parallelism target and a batch would hold parts of several ranges.
    dataset = ray.data.read_datasource(
        StoreBlocks(job), override_num_blocks=len(job.plan.blocks)
    ).map_batches(
        RescoreActor,
        fn_constructor_args=(job,),
        batch_size=None,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=n_actors),
        num_cpus=actor_cpus,
    )
    processed: list[int] = []
    fired = threading.Event()

    def on_timeout() -> None:
        fired.set()
        _thread.interrupt_main()

    watchdog = threading.Timer(timeout_s, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="pandas"):
            for row in batch.to_dict("records"):
                outcome = BatchOutcome.from_row(row)
                summary.add(outcome)
                summary.detail["cpu_s"] += float(row["cpu_s"])
                for name, field in (("actor_rss_mb", "rss_mb"), ("load_s", "load_s")):
                    summary.detail[name] = max(summary.detail[name], float(row[field]))
                blocks = json.loads(row["blocks"])
                processed += blocks
                summary.blocks += len(blocks)
                if progress is not None:
                    progress(outcome.posts)
    except KeyboardInterrupt as exc:
        if fired.is_set():
            raise RescoreTimeout(
                f"the Ray rescore passed its {timeout_s:.0f} s limit after {summary.posts} "
                "posts (a starved actor pool hangs without an error); run the same command "
                "again to resume"
            ) from exc
        raise
    finally:
        watchdog.cancel()
    finish_run_engine(job, processed)
    summary.seconds = time.perf_counter() - started
    return summary


def finish_run_engine(job: Job, processed: list[int]) -> None:
    engine = job.engine()
    try:
        finish_run(engine, job.plan.run_id, processed)
    finally:
        engine.dispose()
