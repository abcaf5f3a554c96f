"""Load every model a worker or an offline job runs: the encoder and each task's champion.

``load_models`` is what the service (``serving/worker_models.py``, per generation), the
offline ranking evaluation and the ranker's training data call. A model that cannot be
loaded is listed as *degraded* with the reason and the command that fixes it, never an
exception: with a fresh data dir (no champion yet) moderation falls back to the rule
detectors (``RULES_VERSION``), quality and trust answer ``null`` with version
``unavailable``, and there is no embedder without an encoder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quanzi.models.champions import load_champion, registered_name
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
    degraded: dict[str, str] = field(default_factory=dict)  # model → why it is missing
    # The learned feed ranker's champion (``models/ranker.py``), None without one: feed
    # requests asking for ``scorer="learned"`` then use the weighted scorer. Not listed as
    # degraded, since the default scorer is the weighted one.
    ranker: Any | None = None


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


def _champion_version(settings: Settings, task: str, predictor: Any) -> str:
    """The registered version of a loaded champion (``load_champion`` records it on disk)."""
    version = getattr(predictor, "version", None)
    if version:
        return str(version)
    pointer = settings.models_dir / registered_name(task) / "champion.json"
    try:
        return str(json.loads(pointer.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "champion"


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
    if mlflow_store_missing(settings):
        for task in TASK_NAMES:
            degraded[task] = (
                f"no champion (no MLflow store yet): run `quanzi train {task}` "
                f"then `quanzi promote quanzi-{task}`"
            )
    else:
        for task in TASK_NAMES:
            try:
                predictor = load_champion(settings, task)
            except Exception as exc:  # a broken model degrades the service, never stops it
                log.exception("cannot load the %s champion", task)
                degraded[task] = f"cannot load the champion: {type(exc).__name__}: {exc}"[:300]
                continue
            if predictor is None:
                degraded[task] = (
                    f"no champion: run `quanzi train {task}` then `quanzi promote quanzi-{task}`"
                )
                continue
            predictors[task] = predictor
            versions[task] = _champion_version(settings, task, predictor)
        ranker = _load_ranker(settings)
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
    return LoadedModels(predictors, versions, embedder, enc_version, degraded, ranker)


def _load_ranker(settings: Settings) -> Any | None:
    """The ``quanzi-ranker`` champion, or None (none promoted yet, or it failed to load)."""
    try:
        ranker = load_champion(settings, "ranker")
    except Exception:  # the weighted scorer still serves every request
        log.exception("cannot load the ranker champion; scorer=learned falls back")
        return None
    if ranker is None:
        log.info("no quanzi-ranker champion: scorer=learned falls back to the weighted one")
        return None
    ranker.version = _champion_version(settings, "ranker", ranker)
    return ranker
