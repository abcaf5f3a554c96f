"""Which model answers for a task, and how to get it: the task → predictor table and the
champion lookup and download from the MLflow registry.

Everything that *runs* a model — the service, ``quanzi score``, the offline ranking
evaluation, promotion — loads it here, without importing training code:

- ``PREDICTORS``: task name → its registered model and the predictor class whose ``load``
  rebuilds a saved folder. Training registers the tasks it defines beyond these (tests'
  small tasks) through ``training/task_registry.py``, so they load the same way;
- ``champion_version`` resolves ``models:/<name>@champion`` (offline: the last version
  this data dir loaded, recorded in ``models/<name>/champion.json``);
- ``download_model_version`` keeps each version's predictor folder in a cache under the
  data dir, so a restart or a second worker loads from disk without MLflow;
- ``load_champion`` puts the three together; ``resolve_champion`` and ``load_version`` are
  its parts for the service, which falls back to the last good version (``loading.py``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from quanzi.models.moderation.predictor import ModerationPredictor
from quanzi.models.predictor import Predictor
from quanzi.models.qa.predictor import QAPredictor
from quanzi.models.quality import QualityPredictor
from quanzi.models.ranker import LinearRanker
from quanzi.models.trust import TrustPredictor
from quanzi.settings import Settings

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
# Inside a downloaded model version: where the predictor folder lies.
MODEL_DIR_IN_ARTIFACTS = Path("artifacts") / "model_dir"


class ChampionError(RuntimeError):
    """A registered version that cannot be a champion (it was not logged by `quanzi train`)."""


class UnknownModelError(LookupError):
    """A task name with no predictor in ``PREDICTORS``."""


@dataclass(frozen=True)
class PredictorKind:
    """What runs a task's model: its registered name and the loader of its saved folder."""

    registered_model: str
    load: Callable[[Path], Predictor]


# Task → predictor. The scored tasks come first, in the order ``quanzi score`` answers.
PREDICTORS: dict[str, PredictorKind] = {
    "moderation": PredictorKind("quanzi-moderation", ModerationPredictor.load),
    "quality": PredictorKind("quanzi-quality", QualityPredictor.load),
    "trust": PredictorKind("quanzi-trust", TrustPredictor.load),
    "ranker": PredictorKind("quanzi-ranker", LinearRanker.load),
    "qa": PredictorKind("quanzi-qa", QAPredictor.load),
}


def registered_name(task_name: str) -> str:
    """The registered model of a task (``quality`` → ``quanzi-quality``)."""
    kind = PREDICTORS.get(task_name)
    if kind is None:
        raise UnknownModelError(
            f"no predictor for task {task_name!r}; known: {', '.join(PREDICTORS)}"
        )
    return kind.registered_model


# --------------------------------------------------------------------------- the registry
def mlflow_client(settings: Settings) -> MlflowClient:
    """A client on this data dir's tracking store and registry (no global MLflow state)."""
    settings.ensure_dirs()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = settings.resolved_mlflow_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def version_by_alias(client: MlflowClient, name: str, alias: str) -> Any | None:
    """The model version holding ``alias``, or None when the model or alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


# --------------------------------------------------------------------------- loading
def download_model_version(settings: Settings, name: str, model_version: str) -> Path:
    """The predictor folder of one registered version, from the data dir's cache.

    Downloaded once into ``models/<name>/v<version>`` (atomic rename, so concurrent
    workers never see half a folder); versions are immutable, so the cache never goes stale.
    """
    target = settings.models_dir / name / f"v{model_version}"
    if (target / MODEL_DIR_IN_ARTIFACTS).is_dir():
        return target / MODEL_DIR_IN_ARTIFACTS
    target.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.resolved_mlflow_uri)
    mlflow.set_registry_uri(settings.resolved_mlflow_uri)
    staging = Path(tempfile.mkdtemp(prefix=f".v{model_version}-", dir=target.parent))
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{model_version}", dst_path=str(staging)
        )
        if not (staging / MODEL_DIR_IN_ARTIFACTS).is_dir():
            raise ChampionError(
                f"{name} version {model_version} has no {MODEL_DIR_IN_ARTIFACTS} artifact: "
                "it was not logged by `quanzi train`"
            )
        try:
            staging.rename(target)
        except OSError:
            if not (target / MODEL_DIR_IN_ARTIFACTS).is_dir():  # not a concurrent winner
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / MODEL_DIR_IN_ARTIFACTS


class RegistryUnreachable(OSError):
    """The MLflow registry could not be asked, and no version was ever loaded here."""


def _within(timeout_s: float, call: Callable[[], Any]) -> Any:
    """``call()``'s answer, or ``RegistryUnreachable`` after ``timeout_s``.

    MLflow's HTTP client retries a refused connection with backoff for minutes (247 s
    measured per lookup); a service starting while the tracking server is down must not
    wait that long before it serves on its cached versions. The call runs on in a daemon
    thread and its late answer is dropped.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="mlflow-lookup", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise RegistryUnreachable(f"no answer from the MLflow registry within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def last_good_version(settings: Settings, task_name: str) -> str | None:
    """The version this data dir last loaded successfully (``models/<name>/champion.json``)."""
    pointer = settings.models_dir / registered_name(task_name) / "champion.json"
    try:
        return str(json.loads(pointer.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ChampionChoice:
    """Which version to load, and why the registry was not asked (None when it was)."""

    version: str | None
    unreachable: str | None = None


def resolve_champion(settings: Settings, task_name: str, offline: bool = False) -> ChampionChoice:
    """The version ``models:/<name>@champion`` points at (None: there is none).

    When the registry cannot be reached within ``settings.mlflow_timeout_s`` (or
    ``offline`` says an earlier lookup failed), the last version this data dir loaded is
    chosen and ``unreachable`` says why; with no such version, ``RegistryUnreachable``.
    """
    name = registered_name(task_name)
    reason = "MLflow registry unreachable (an earlier lookup in this load failed)"
    if not offline:
        try:
            found = _within(
                settings.mlflow_timeout_s,
                lambda: version_by_alias(mlflow_client(settings), name, CHAMPION),
            )
            return ChampionChoice(None if found is None else str(found.version))
        except (MlflowException, OSError) as exc:
            reason = f"MLflow registry unreachable ({type(exc).__name__}: {str(exc)[:160]})"
    cached = last_good_version(settings, task_name)
    if cached is None:
        raise RegistryUnreachable(f"{reason}; no version of {name} was ever loaded here")
    log.warning("%s; using %s version %s, the last one loaded here", reason, name, cached)
    return ChampionChoice(cached, reason)


def champion_version(settings: Settings, task_name: str) -> str | None:
    """The version ``models:/<name>@champion`` points at, or None when there is none.

    When the tracking store cannot be reached, the last champion this data dir loaded
    is used (recorded in ``models/<name>/champion.json``), so scoring works offline.
    """
    return resolve_champion(settings, task_name).version


def load_version(settings: Settings, task_name: str, model_version: str) -> Predictor:
    """One registered version's predictor (from the cache, else downloaded); recorded as the
    last good version only once it has loaded."""
    name = registered_name(task_name)
    model_dir = download_model_version(settings, name, model_version)
    predictor = PREDICTORS[task_name].load(model_dir)
    pointer = settings.models_dir / name / "champion.json"
    tmp = pointer.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps({"version": model_version}))
    tmp.replace(pointer)  # atomic: a concurrent worker never reads half a file
    return predictor


def load_champion(settings: Settings, task_name: str) -> Predictor | None:
    """The predictor registered as ``models:/<name>@champion``, or None when there is none
    (works offline from the cache, see ``champion_version``)."""
    model_version = champion_version(settings, task_name)
    if model_version is None:
        return None
    return load_version(settings, task_name, model_version)
