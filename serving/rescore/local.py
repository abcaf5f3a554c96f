"""The job every engine runs, its summary, and the local (in-process) engine.

``Job`` carries what a process needs to rescore — settings, the store's URL, the plan and
the function that loads the chosen versions — and no model: each process loads the
models itself, by version (``models/model_versions.load_versions``).
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine

from quanzi.models.index import save_index
from quanzi.models.index.rebuild import rebuild_from_store
from quanzi.models.index.sync import StoreReader
from quanzi.models.index.vector_index import IndexConfig
from quanzi.models.loading import LoadedModels
from quanzi.models.model_versions import load_versions
from quanzi.serving.rescore.batch import BatchOutcome, rescore_batch
from quanzi.serving.rescore.plan import Plan, finish_run, read_block
from quanzi.settings import Settings
from quanzi.storage.db import make_engine, session_factory

Loader = Callable[[Settings, dict[str, str]], LoadedModels]


class RescoreTimeout(TimeoutError):
    """A run that did not finish within its time limit (never a silent hang)."""


@dataclass(frozen=True)
class Job:
    """One rescore as every process sees it (picklable: settings, URL, plan, loader)."""

    settings: Settings
    database_url: str
    plan: Plan
    loader: Loader = load_versions

    def engine(self, **kwargs: Any) -> Engine:
        return make_engine(self.database_url, **kwargs)


@dataclass
class Summary:
    """What a run did, for the command's last lines and the benchmark."""

    engine: str
    posts: int = 0
    embedded: int = 0
    seconds: float = 0.0
    blocks: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    detail: dict[str, Any] = field(default_factory=dict)  # engine-specific (actors, CPUs)
    shards: dict[str, np.ndarray] = field(default_factory=dict)  # new vectors, by post

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.seconds if self.seconds > 0 else 0.0

    def add(self, outcome: BatchOutcome) -> None:
        self.posts += outcome.posts
        self.embedded += outcome.embedded
        self.changes.update(outcome.changes)
        self.shards.update(outcome.shard)

    def lines(self) -> list[str]:
        """The run's summary: posts, rate, changed decisions by direction and label."""
        out = [
            f"{self.engine}: {self.posts} posts in {self.seconds:.1f} s "
            f"({self.posts_per_s:.0f} posts/s), {self.embedded} re-embedded, "
            f"{self.blocks} blocks"
        ]
        if "actors" in self.detail:
            out.append(
                f"  on {self.detail['nodes']} node(s), {self.detail['actors']} actor(s) of "
                f"{self.detail['cpus_per_actor']:g} CPU, largest actor "
                f"{self.detail['actor_rss_mb']:.0f} MiB"
            )
        if self.changes:
            out.append("changed decisions:")
            out += [f"  {k}: {n}" for k, n in sorted(self.changes.items())]
        else:
            out.append("no decision changed")
        return out


def run_local(
    job: Job,
    progress: Callable[[int], None] | None = None,
    timeout_s: float | None = None,
    models: LoadedModels | None = None,
) -> Summary:
    """Process the plan's blocks in this process, one transaction per block."""
    started, cpu = time.perf_counter(), time.process_time()
    engine = job.engine()
    summary = Summary("local", detail={"processes": 1})
    try:
        if not job.plan.blocks:  # nothing to do: no model to load
            finish_run(engine, job.plan.run_id)
            return summary
        loading = time.perf_counter()
        models = models or job.loader(job.settings, job.plan.versions)
        summary.detail["load_s"] = time.perf_counter() - loading
        sessions = session_factory(engine)
        processed: list[int] = []
        for block in job.plan.blocks:
            if timeout_s is not None and time.perf_counter() - started > timeout_s:
                raise RescoreTimeout(
                    f"the local rescore passed its {timeout_s:.0f} s limit after "
                    f"{summary.posts} posts; run the same command again to resume"
                )
            rows = read_block(
                sessions, block, job.plan.selection, job.plan.key, models.encoder_version
            )
            summary.add(rescore_batch(sessions, models, job.plan.run_id, rows))
            processed.append(block.block)
            summary.blocks += 1
            if progress is not None:
                progress(len(rows))
        finish_run(engine, job.plan.run_id, processed)
    finally:
        engine.dispose()
    summary.seconds = time.perf_counter() - started
    summary.detail.update(cpu_s=time.process_time() - cpu, rss_mb=peak_rss_mb())
    return summary


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (models loaded, batches held)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save_encoder_index(
    job: Job, encoder_version: str, shards: dict[str, np.ndarray] | None = None
) -> int:
    """Merge the run's per-block shards (the vectors its batches stored) with the stored
    vectors of the posts it did not embed into one index of the encoder version, and save
    it atomically under ``index_dir/<encoder_version>`` (the manifest's rename is the
    switch): a worker that loads this encoder version starts from it instead of
    rebuilding. Returns its size."""
    engine = job.engine()
    try:
        config = IndexConfig.from_settings(job.settings)
        reader = StoreReader(engine, encoder_version)
        index = rebuild_from_store(reader, config, known=shards)
        save_index(index, job.settings.index_dir)
        return len(index)
    finally:
        engine.dispose()
