"""Load every model a worker or an offline job runs: the encoder and each task's champion.

``load_models`` is what the service (``serving/worker_models.py``, per generation), the
offline ranking evaluation and the ranker's training data call. A model that cannot be
loaded is listed as *degraded* with the reason and the command that fixes it, never an
exception: with a fresh data dir (no champion yet) moderation falls back to the rule
detectors (``RULES_VERSION``), quality and trust answer ``null`` with version
``unavailable``, and there is no embedder without an encoder. A champion whose artifact is
missing or corrupt, or a registry that does not answer, falls back to the last version
this data dir loaded (``load_task``), listed as degraded too (``docs/serving.md``,
"Degraded mode").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quanzi.models.champions import last_good_version, load_version, resolve_champion
from quanzi.models.encoder import effective_runtime, embed_texts, load_encoder, resolve_encoder
from quanzi.models.encoder_identity import encoder_version_of
from quanzi.models.moderation.policy import RULES_VERSION
from quanzi.settings import Settings

log = logging.getLogger(__name__)

TASK_NAMES = ("moderation", "quality", "trust")
UNAVAILABLE = "unavailable"


class Embedder(Protocol):
    """Texts → unit vectors ``(n, dim)`` float32; ``dim`` is known before the first call."""

    dim: int

    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class SentenceEmbedder:
    """The configured sentence-transformers encoder behind the ``Embedder`` protocol."""

    model: Any
    dim: int
    batch_size: int = 64

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return embed_texts(self.model, list(texts), batch_size=self.batch_size)


@dataclass
class LoadedModels:
    """What a loader returns: predictors (None where missing), versions, the embedder."""

    predictors: dict[str, Any]
    versions: dict[str, str]  # task → registered version, RULES_VERSION or UNAVAILABLE
    embedder: Embedder | None
    encoder_version: str | None
    # model → why it is missing or not the champion (then served on its last good version)
    degraded: dict[str, str] = field(default_factory=dict)
    # The learned feed ranker's champion (``models/ranker.py``), None without one: feed
    # requests asking for ``scorer="learned"`` then use the weighted scorer. Listed as
    # degraded only when a champion exists and cannot be loaded.
    ranker: Any | None = None
    # The Q&A models' champion (``models/qa/predictor.py``, ``quanzi-qa``), None without
    # one: answers are then ranked by purchase and votes, invitees by purchase recency.
    qa: Any | None = None


Loader = Callable[[Settings], LoadedModels]


def encoder_version(settings: Settings) -> str:
    """The version of the encoder in force (``encoder_identity.encoder_version_of``)."""
    version = encoder_version_of(resolve_encoder(settings))
    # ONNX int8 vectors differ a little from torch's: never mix them in one index.
    runtime = effective_runtime(settings)
    return version if runtime == "torch" else f"{version}-{runtime}"


def mlflow_store_missing(settings: Settings) -> bool:
    """True when the default SQLite tracking store was never created: no model exists.

    Checked first so a fresh data dir does not create (and migrate) an MLflow store just to
    learn that it holds nothing.
    """
    uri = settings.resolved_mlflow_uri
    return uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists()


@dataclass
class TaskLoad:
    """One task's model as loaded: the predictor and version served, or why it is missing
    or not the champion (``note``); ``offline`` once the registry failed to answer."""

    predictor: Any | None
    version: str | None
    note: str | None
    offline: bool


def load_task(settings: Settings, task: str, offline: bool = False) -> TaskLoad:
    """The champion of ``task``, falling back to the last version loaded here.

    - registry unreachable: the last good version (``note`` says so), or nothing;
    - the champion's artifact missing or corrupt: the last good version if it differs;
    - no champion registered: nothing, and no note beyond what to run.
    Never raises: a broken model degrades the service, never stops it.
    """
    try:
        choice = resolve_champion(settings, task, offline=offline)
    except Exception as exc:  # unreachable with nothing cached, or a broken store
        log.warning("cannot ask the registry for the %s champion: %s", task, exc)
        return TaskLoad(None, None, f"{type(exc).__name__}: {exc}"[:300], True)
    offline = offline or choice.unreachable is not None
    if choice.version is None:
        return TaskLoad(
            None,
            None,
            f"no champion: run `quanzi train {task}` then `quanzi promote quanzi-{task}`",
            offline,
        )
    try:
        predictor = load_version(settings, task, choice.version)
        return TaskLoad(predictor, choice.version, choice.unreachable, offline)
    except Exception as exc:  # a missing or corrupt artifact
        log.exception("cannot load the %s champion v%s", task, choice.version)
        broken = f"cannot load v{choice.version}: {type(exc).__name__}: {exc}"[:240]
    last_good = last_good_version(settings, task)
    if last_good is not None and last_good != choice.version:
        try:
            predictor = load_version(settings, task, last_good)
        except Exception as exc:
            log.exception("cannot load the last good %s v%s either", task, last_good)
            broken += f"; the last good v{last_good} neither: {type(exc).__name__}"
        else:
            log.warning("%s: serving the last good version %s", broken, last_good)
            return TaskLoad(
                predictor, last_good, f"{broken}; serving the last good v{last_good}", offline
            )
    return TaskLoad(None, None, broken, offline)


def load_embedder(settings: Settings) -> SentenceEmbedder:
    """The configured encoder behind the ``Embedder`` protocol (raises when it cannot load)."""
    model = load_encoder(settings)
    # sentence-transformers 6 renamed the method; older releases have only the old name.
    dimension = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    dim = int(dimension() or 0)
    if dim < 1:
        raise ValueError("the encoder does not report its embedding dimension")
    return SentenceEmbedder(model, dim)


def load_models(settings: Settings) -> LoadedModels:
    """Load the encoder and every task's ``champion``; whatever fails is listed as degraded."""
    predictors: dict[str, Any] = dict.fromkeys(TASK_NAMES)
    versions: dict[str, str] = {}
    degraded: dict[str, str] = {}
    ranker: Any | None = None
    qa: Any | None = None
    if mlflow_store_missing(settings):
        for task in TASK_NAMES:
            degraded[task] = (
                f"no champion (no MLflow store yet): run `quanzi train {task}` "
                f"then `quanzi promote quanzi-{task}`"
            )
    else:
        offline = False
        for task in TASK_NAMES:
            got = load_task(settings, task, offline)
            offline = got.offline  # one unanswered lookup: the others use the cache at once
            if got.predictor is not None and got.version is not None:
                predictors[task] = got.predictor
                versions[task] = got.version
            if got.note is not None:
                degraded[task] = got.note
        ranker = _load_optional(settings, "ranker", offline, degraded)
        qa = _load_optional(settings, "qa", offline, degraded)
    for task in TASK_NAMES:
        if predictors[task] is None:
            versions[task] = RULES_VERSION if task == "moderation" else UNAVAILABLE
    embedder: Embedder | None = None
    enc_version: str | None = None
    try:
        embedder = load_embedder(settings)
        enc_version = encoder_version(settings)
    except Exception as exc:  # no encoder: ingest still stores and moderates, no vectors
        log.warning("encoder unavailable: %s", exc)
        degraded["encoder"] = f"{type(exc).__name__}: {exc}"[:300]
    return LoadedModels(predictors, versions, embedder, enc_version, degraded, ranker, qa)


def _load_optional(
    settings: Settings, task: str, offline: bool, degraded: dict[str, str]
) -> Any | None:
    """The champion of ``task`` (``ranker``, ``qa``) or its last good version, or None.
    Having none is normal (the feed's weighted scorer, the Q&A's votes-and-purchase order
    serve); one that fails to load is listed as degraded."""
    got = load_task(settings, task, offline)
    if got.predictor is None:
        if got.note is not None and not got.note.startswith("no champion"):
            degraded[task] = got.note
        else:
            log.info("no %s champion: its fallback serves", task)
        return None
    if got.note is not None:
        degraded[task] = got.note
    got.predictor.version = got.version
    return got.predictor
