"""MLflow set-up shared by every training command.

The tracking store is ``Settings().resolved_mlflow_uri`` (SQLite in the data dir by
default) and artifacts go under ``Settings().mlflow_artifacts_dir``, so two data dirs never
share runs or models. Models are registered by name with an alias that promotion moves.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mlflow

from quanzi.settings import Settings


def configure_mlflow(settings: Settings, experiment: str) -> str:
    """Point MLflow at this data dir's store and select ``experiment``; returns its id."""
    settings.ensure_dirs()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.resolved_mlflow_uri)
    mlflow.set_registry_uri(settings.resolved_mlflow_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        location = (settings.mlflow_artifacts_dir / experiment).as_uri()
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    else:
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def pinned_requirements(*packages: str) -> list[str]:
    """``name==version`` for installed packages: given explicitly, MLflow skips its slow
    requirement inference (which reloads the model in a subprocess)."""
    reqs = []
    for name in packages:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            reqs.append(name)
    return reqs


def log_sentence_transformer(
    model: Any,
    registered_name: str,
    alias: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Log a sentence-transformers model to the active run and register it.

    Returns ``(model_uri, version)``; ``alias`` (if given) is moved to the new version.
    """
    info = mlflow.sentence_transformers.log_model(
        model,
        name="model",
        registered_model_name=registered_name,
        pip_requirements=pinned_requirements("sentence-transformers", "transformers", "torch"),
        metadata=metadata,
    )
    model_version = str(info.registered_model_version)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(registered_name, alias, model_version)
    return info.model_uri, model_version
