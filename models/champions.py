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
- ``load_champion`` puts the three together.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from quanzi.models.moderation.predictor import ModerationPredictor
from quanzi.models.predictor import Predictor
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


def champion_version(settings: Settings, task_name: str) -> str | None:
    """The version ``models:/<name>@champion`` points at, or None when there is none.

    When the tracking store cannot be reached, the last champion this data dir loaded
    is used (recorded in ``models/<name>/champion.json``), so scoring works offline.
    """
    name = registered_name(task_name)
    pointer = settings.models_dir / name / "champion.json"
    try:
        found = version_by_alias(mlflow_client(settings), name, CHAMPION)
    except (MlflowException, OSError) as exc:
        if not pointer.is_file():
            raise
        cached = str(json.loads(pointer.read_text())["version"])
        log.warning("MLflow store unreachable (%s); using cached %s version %s", exc, name, cached)
        return cached
    return None if found is None else str(found.version)


def load_champion(settings: Settings, task_name: str) -> Predictor | None:
    """The predictor registered as ``models:/<name>@champion``, or None when there is none
    (works offline from the cache, see ``champion_version``)."""
    model_version = champion_version(settings, task_name)
    if model_version is None:
        return None
    name = registered_name(task_name)
    model_dir = download_model_version(settings, name, model_version)
    (settings.models_dir / name / "champion.json").write_text(
        json.dumps({"version": model_version})
    )
    return PREDICTORS[task_name].load(model_dir)
