"""The models one worker serves: the encoder, the three champion predictors, the vector index.

What to load and how a missing model degrades is ``models/loading.py``; this module owns
when a worker loads, and swapping a whole generation at once.

Why a registry rather than module globals:
- a reload swaps *every* model at once: a request takes ``registry.current()`` once and
  uses that ``ModelSet`` to the end, so it never mixes the new quality model with the old
  trust model, and requests keep flowing on the old set while the new one loads;
- a model that cannot be loaded degrades the service instead of stopping it. With a fresh
  data dir (no champion yet) moderation falls back to the rule detectors plus circle rules,
  quality and trust answer ``null`` with version ``unavailable``, and ``/readyz`` lists what
  is missing (``degraded``) while still answering 200;
- several workers: ``POST /v1/admin/reload`` reaches one worker; it touches
  ``$QUANZI_DATA_DIR/models/reload-request.json`` and every worker's watcher reloads when
  the file changes (within ``RELOAD_POLL_S``).

Loading is eager in a background thread at startup (``env`` development or production),
and lazy — on the first request that needs a model — under ``env=test``, so test apps that
never touch a model never pay for one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from quanzi.models.index.rebuild import open_worker_index
from quanzi.models.loading import (
    TASK_NAMES,
    UNAVAILABLE,
    Embedder,
    LoadedModels,
    Loader,
    load_models,
)
from quanzi.models.moderation.policy import RULES_VERSION
from quanzi.models.scoring import reads_encoder
from quanzi.serving.recent_vectors import RecentVectors
from quanzi.serving.topic_assigner import TopicAssigner
from quanzi.settings import Settings

log = logging.getLogger(__name__)

RELOAD_POLL_S = 2.0  # how often a worker checks for a reload asked of another worker
RELOAD_REQUEST_FILE = "reload-request.json"


@dataclass(frozen=True)
class ModelSet:
    """One consistent generation of models; never mutated after the swap."""

    generation: int
    predictors: dict[str, Any]
    versions: dict[str, str]
    embedder: Embedder | None
    encoder_version: str | None
    index_sync: Any | None  # quanzi.models.index.IndexSync of ``encoder_version``
    degraded: dict[str, str]
    loaded_at: datetime
    # This generation's recent-ingest buffer (internally locked; dies with the generation).
    recent: RecentVectors = field(default_factory=RecentVectors)
    ranker: Any | None = None  # the learned feed ranker's champion (LoadedModels.ranker)
    qa: Any | None = None  # the Q&A models' champion (LoadedModels.qa)
    # Circles' topic centroids for assigning untagged posts at ingest (this encoder's).
    topics: TopicAssigner = field(default_factory=TopicAssigner)

    @property
    def index(self) -> Any | None:
        """The worker's ``VectorIndex`` for this encoder (None without an encoder)."""
        return None if self.index_sync is None else self.index_sync.index

    def model_versions(self) -> dict[str, str]:
        """Every model's version as responses report it (``unavailable`` when missing)."""
        return {
            **{t: self.versions.get(t, UNAVAILABLE) for t in TASK_NAMES},
            "encoder": self.encoder_version or UNAVAILABLE,
        }

    def serving_instead(self, name: str) -> str:
        """What answers for a degraded model: its last good version, or the fallback."""
        if name == "ranker":
            if self.ranker is not None:
                return f"v{getattr(self.ranker, 'version', '?')} (not the champion)"
            return "the weighted scorer (weighted-v1)"
        if name == "qa":
            if self.qa is not None:
                return f"v{getattr(self.qa, 'version', '?')} (not the champion)"
            return "answers by purchase and votes, invitees by purchase recency"
        if name == "encoder":
            if self.embedder is not None:
                return f"{self.encoder_version} (kept)"
            return "none: posts are stored without vectors, similar search answers 503"
        if self.predictors.get(name) is not None:
            return f"v{self.versions.get(name)} (not the champion)"
        if name == "moderation":
            return f"{RULES_VERSION}: the rule detectors and circle rules"
        return "none: scores are null"

    def degraded_list(self) -> list[dict[str, str]]:
        return [
            {"model": name, "reason": why, "serving": self.serving_instead(name)}
            for name, why in sorted(self.degraded.items())
        ]

    def degraded_marker(self) -> str:
        """The ``X-Quanzi-Degraded`` header value: ``model=served`` pairs ("" when whole)."""
        marks = []
        for name in sorted(self.degraded):
            if name == "ranker":
                served = f"v{self.ranker.version}" if self.ranker is not None else "weighted-v1"
            elif name == "qa":
                served = f"v{self.qa.version}" if self.qa is not None else "none"
            elif name == "encoder":
                served = self.encoder_version if self.embedder is not None else "none"
            else:
                served = self.versions.get(name, UNAVAILABLE)
            marks.append(f"{name}={served}")
        return ", ".join(marks)


# --------------------------------------------------------------------------- registry
@dataclass
class ReloadStatus:
    """The last (or running) load, as ``/v1/admin/reload`` reports it."""

    state: Literal["idle", "running", "done", "failed"] = "idle"
    generation: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    trigger: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "generation": self.generation,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "trigger": self.trigger,
        }


OnSwap = Callable[[ModelSet], None]


class ModelRegistry:
    """Holds the current ``ModelSet`` of this worker and swaps in new ones atomically."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        loader: Loader = load_models,
        on_swap: OnSwap | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.loader = loader
        self.on_swap = on_swap
        self._current: ModelSet | None = None
        self._load_lock = threading.Lock()  # one load at a time; requests never take it
        self._status_lock = threading.Lock()
        self.status = ReloadStatus()
        self._thread: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._seen_request: int | None = None
        self._closed = False

    # ------------------------------------------------------------------ reading
    @property
    def loaded(self) -> bool:
        return self._current is not None

    def current(self) -> ModelSet:
        """The models in force; the first call waits for (or runs) the first load."""
        models = self._current
        if models is not None:
            return models
        with self._load_lock:  # waits for a background load that is under way
            if self._current is None:
                self._load_locked("first use")
        assert self._current is not None
        return self._current

    def peek(self) -> ModelSet | None:
        """The models in force without loading any (``/readyz``)."""
        return self._current

    # ------------------------------------------------------------------ loading
    def _load_locked(self, trigger: str) -> ModelSet | None:
        """Build a new set and swap it in (caller holds ``_load_lock``).

        On failure the set in force stays (or, on the first load, an all-degraded set is
        served), the status says why, and None is returned.
        """
        with self._status_lock:
            generation = self._current.generation + 1 if self._current else 1
            self.status = ReloadStatus("running", generation, datetime.now(UTC), trigger=trigger)
        started = time.perf_counter()
        try:
            loaded = self.loader(self.settings)
            old = self._current
            if old is not None:
                keep_last_good(loaded, old)
            sync = self._index_for(loaded, old)
            new = ModelSet(
                generation=generation,
                predictors=dict(loaded.predictors),
                versions=dict(loaded.versions),
                embedder=loaded.embedder,
                encoder_version=loaded.encoder_version,
                index_sync=sync,
                degraded=dict(loaded.degraded),
                loaded_at=datetime.now(UTC),
                ranker=loaded.ranker,
                qa=loaded.qa,
                topics=TopicAssigner(self.settings.topic_centroids_ttl_s),
            )
        except Exception as exc:
            log.exception("model load failed; keeping the models in force")
            with self._status_lock:
                self.status.state = "failed"
                self.status.finished_at = datetime.now(UTC)
                self.status.error = f"{type(exc).__name__}: {exc}"[:500]
            if self._current is None:  # nothing to keep serving on: serve degraded
                self._current = _empty_set(generation, str(exc))
            return None
        self._current = new  # the swap: one reference assignment, atomic for readers
        if old is not None and old.index_sync is not None and old.index_sync is not sync:
            old.index_sync.stop()  # in-flight searches on the old index still complete
        with self._status_lock:
            self.status.state = "done"
            self.status.finished_at = datetime.now(UTC)
        log.info(
            "models generation %d loaded in %.1f s: %s",
            generation,
            time.perf_counter() - started,
            new.model_versions(),
        )
        if self.on_swap is not None:
            self.on_swap(new)
        return new

    def _index_for(self, loaded: LoadedModels, old: ModelSet | None) -> Any | None:
        """The index sync for the loaded encoder: kept when the version is unchanged."""
        if loaded.embedder is None or loaded.encoder_version is None:
            return None
        if (
            old is not None
            and old.index_sync is not None
            and old.encoder_version == loaded.encoder_version
        ):
            return old.index_sync
        sync, report, rebuilt = open_worker_index(
            self.settings, self.engine, loaded.encoder_version, loaded.embedder.dim
        )
        if rebuilt:
            log.warning("index %s rebuilt from the store: %s", loaded.encoder_version, rebuilt)
        log.info(
            "index %s: %d vectors after reconcile (%s)",
            loaded.encoder_version,
            len(sync.index),
            report,
        )
        sync.run_in_thread()
        return sync

    def reload(self, trigger: str = "admin", wait: bool = False) -> ReloadStatus:
        """Load new models in a background thread (or in this one with ``wait``).

        A reload asked while one is running joins it instead of starting another.
        """
        if wait:
            with self._load_lock:
                self._load_locked(trigger)
            return self.status
        with self._status_lock:
            if self._thread is not None and self._thread.is_alive():
                return self.status
            current = self._current
            self.status = ReloadStatus(
                "running",
                current.generation + 1 if current else 1,
                datetime.now(UTC),
                trigger=trigger,
            )
            self._thread = threading.Thread(
                target=self._background_load, args=(trigger,), name="model-reload", daemon=True
            )
            self._thread.start()
            return self.status

    def _background_load(self, trigger: str) -> None:
        with self._load_lock:
            if not self._closed:
                self._load_locked(trigger)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background reload to finish; False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # ------------------------------------------------------------------ other workers
    @property
    def reload_request_path(self) -> Path:
        return self.settings.models_dir / RELOAD_REQUEST_FILE

    def _request_stamp(self) -> int | None:
        try:
            return self.reload_request_path.stat().st_mtime_ns
        except OSError:
            return None

    def request_reload_everywhere(self, by: str) -> None:
        """Tell the other workers on this data dir to reload too (they poll the file)."""
        path = self.reload_request_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"requested_at": datetime.now(UTC).isoformat(), "by": by}))
        tmp.replace(path)
        self._seen_request = self._request_stamp()

    def start_watching(self, interval_s: float = RELOAD_POLL_S) -> None:
        """Poll the reload-request file; a change made by another worker triggers a reload."""
        self._seen_request = self._request_stamp()

        def watch() -> None:
            while not self._watch_stop.wait(interval_s):
                stamp = self._request_stamp()
                if stamp is not None and stamp != self._seen_request:
                    self._seen_request = stamp
                    self.reload(trigger="another worker")

        self._watcher = threading.Thread(target=watch, name="model-reload-watch", daemon=True)
        self._watcher.start()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Startup outside tests: load in the background and watch for reload requests."""
        self.reload(trigger="startup")
        self.start_watching()

    def close(self) -> None:
        """Stop the watcher, wait for a running load, stop the index sync thread."""
        self._closed = True
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(5.0)
        self.wait(60.0)
        models = self._current
        if models is not None and models.index_sync is not None:
            models.index_sync.stop()


def keep_last_good(loaded: LoadedModels, old: ModelSet) -> None:
    """A model the new load could not give keeps the version in force, not a fallback:
    a reload after a broken promotion (or while MLflow is down) never drops a good model."""
    if loaded.embedder is None and old.embedder is not None:
        loaded.embedder, loaded.encoder_version = old.embedder, old.encoder_version
        why = loaded.degraded.get("encoder", "not loaded")
        loaded.degraded["encoder"] = f"{why}; kept {old.encoder_version} in force"
    for task in TASK_NAMES:
        if loaded.predictors.get(task) is None and old.predictors.get(task) is not None:
            why = loaded.degraded.get(task, "not loaded")
            if not reads_encoder(old.predictors[task], loaded.encoder_version):
                # e.g. quality after a new encoder: its vectors are not the old model's
                loaded.degraded[task] = (
                    f"{why}; v{old.versions[task]} read the vectors of another encoder than "
                    f"{loaded.encoder_version}: not kept (retrain with `quanzi train {task}`)"
                )
                continue
            loaded.predictors[task] = old.predictors[task]
            loaded.versions[task] = old.versions[task]
            loaded.degraded[task] = f"{why}; kept v{old.versions[task]} in force"
    if loaded.ranker is None and old.ranker is not None and "ranker" in loaded.degraded:
        loaded.ranker = old.ranker
        loaded.degraded["ranker"] += f"; kept v{old.ranker.version} in force"
    if loaded.qa is None and old.qa is not None and "qa" in loaded.degraded:
        loaded.qa = old.qa
        loaded.degraded["qa"] += f"; kept v{old.qa.version} in force"


def _empty_set(generation: int, reason: str) -> ModelSet:
    """Everything degraded: what a worker serves when even its first load failed."""
    why = f"model load failed: {reason}"[:300]
    return ModelSet(
        generation=generation,
        predictors=dict.fromkeys(TASK_NAMES),
        versions={"moderation": RULES_VERSION, "quality": UNAVAILABLE, "trust": UNAVAILABLE},
        embedder=None,
        encoder_version=None,
        index_sync=None,
        degraded={name: why for name in (*TASK_NAMES, "encoder")},
        loaded_at=datetime.now(UTC),
    )
