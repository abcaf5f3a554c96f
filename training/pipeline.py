"""``quanzi train <task>``: one MLflow run per task, read top to bottom in the order it runs.

Every task goes through ``train`` — the text models and the learned feed ranker alike
(a task's optional hooks say what differs: its world must exist first, more params, a
model logged from another pyfunc wrapper without a text signature).

config → data → model → evaluation → saving. The run logs the task's config, the data
hashes and split sizes, every metric the task reports, its figures and tables, and the
model as an MLflow pyfunc ("models from code": ``training/pyfunc_model.py`` plus the
predictor folder of JSON + safetensors), registered under ``task.registered_model`` with
alias ``challenger``. Promotion (``training/promotion.py``) later moves ``champion``.

Loading a registered model back (``load_champion``, ``download_model_version``) is
``models/champions.py``'s: the service and ``quanzi score`` never import training code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema

from quanzi.models.champions import CHALLENGER
from quanzi.models.encoder_identity import encoder_digest, encoder_version_of
from quanzi.models.predictor import INPUT_FIELDS, Predictor, input_records
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.mlflow_utils import pinned_requirements
from quanzi.training.task_registry import use_experiment
from quanzi.training.tasks import Task, TaskData

log = logging.getLogger(__name__)

EXAMPLE_ROWS = 3
PARAM_CHARS = 6000


class TaskContractError(RuntimeError):
    """A task broke the ``training/tasks.py`` contract (missing metric, NaN, bad save)."""


def experiment_name(task: Task) -> str:
    """One MLflow experiment per task (baselines log into the same one)."""
    return task.name


# ---------------------------------------------------------------- data hashes


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a split (rows in order, every column), so runs on different data
    are never compared as if they were on the same test set."""
    payload = frame.to_json(orient="records", force_ascii=False, date_format="iso")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def evaluation_sets(data: TaskData) -> dict[str, pd.DataFrame]:
    """The fixed sets promotion compares on: ``test`` and every extra set."""
    return {"test": data.test, **data.extra}


def data_params(data: TaskData) -> dict[str, Any]:
    """Source hashes the task reports, plus row counts and content hashes of every split."""
    params: dict[str, Any] = {f"data.{name}": digest for name, digest in data.hashes.items()}
    splits = {"train": data.train, "dev": data.dev, **evaluation_sets(data)}
    for name, frame in splits.items():
        params[f"split.{name}.rows"] = len(frame)
        params[f"split.{name}.sha256"] = frame_sha256(frame)
    return params


# ---------------------------------------------------------------- config


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif isinstance(value, list | tuple | set):
        _flatten(prefix, ",".join(str(x) for x in value), out)
    elif isinstance(value, str) and len(value) > PARAM_CHARS:
        out[prefix] = value[: PARAM_CHARS - 1] + "…"  # MLflow refuses longer param values
    else:
        out[prefix] = value


def task_params(task: Task, small: bool) -> dict[str, Any]:
    """What the run was asked to do: task, gate, small flag, versions, the task's config."""
    params: dict[str, Any] = {
        "task": task.name,
        "registered_model": task.registered_model,
        "primary_metric": task.primary_metric,
        "small": small,
        "quanzi_version": _package_version("quanzi"),
        "mlflow_version": _package_version("mlflow"),
    }
    for metric, (greater_is_better, tolerance) in task.gate.items():
        params[f"gate.{metric}"] = f"{'max' if greater_is_better else 'min'} tol={tolerance}"
    config_for = getattr(task, "config_for", None)  # the config a --small run resolves to
    config = config_for(small) if config_for is not None else getattr(task, "config", None)
    if config is not None:
        _flatten("cfg", config, params)
    return params


def encoder_params(predictor: Predictor) -> dict[str, str]:
    """Which sentence encoder the model uses (``encoder_name``, None: none): its name, its
    version as the service names it, and the content hash of its files."""
    name = getattr(predictor, "encoder_name", None)
    if not name:
        return {"encoder": "none"}
    return {
        "encoder": name,
        "encoder_version": encoder_version_of(name),
        "encoder_sha256": encoder_digest(name),
    }


# ---------------------------------------------------------------- evaluation checks


def check_metrics(task: Task, metrics: dict[str, float]) -> dict[str, float]:
    """Finite floats, and every metric promotion needs is present (else the gate is blind)."""
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        number = float(value)
        if not math.isfinite(number):
            raise TaskContractError(f"task {task.name}: metric {name} is {number}")
        clean[name] = number
    needed = {task.primary_metric, *task.gate}
    missing = sorted(needed - clean.keys())
    if missing:
        raise TaskContractError(
            f"task {task.name}: evaluate() did not report {', '.join(missing)}, which "
            "promotion compares (primary_metric / gate)"
        )
    return clean


def _same_predictions(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal after a JSON round trip, with floats compared to 1e-5 (float32 weights)."""

    def close(x: Any, y: Any) -> bool:
        if (
            isinstance(x, float | int)
            and isinstance(y, float | int)
            and not (isinstance(x, bool) or isinstance(y, bool))
        ):
            return math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-5)
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(close(p, q) for p, q in zip(x, y, strict=True))
        return bool(x == y)

    return close(json.loads(json.dumps(a)), json.loads(json.dumps(b)))


def input_example(data: TaskData) -> pd.DataFrame:
    """A few test rows, input fields only: logged with the model as its example."""
    columns = [c for c in INPUT_FIELDS if c in data.test.columns]
    return data.test[columns].head(EXAMPLE_ROWS).reset_index(drop=True)


@dataclass(frozen=True)
class ModelFormat:
    """How a task's model is logged (``Task.model_format``; the text models' by default).

    ``code`` is the pyfunc wrapper logged as "models from code"; ``requirements`` are
    pinned so MLflow skips requirement inference; ``example`` picks the rows the saved model
    must predict exactly as the trained one (and, with ``signature``, the logged input
    example), ``records`` turns them into ``predict`` input.
    """

    code: Path
    requirements: tuple[str, ...]
    example: Callable[[TaskData], pd.DataFrame]
    records: Callable[[pd.DataFrame], list[dict[str, Any]]]
    signature: bool  # log an input example and a signature (text records only)


TEXT_MODEL = ModelFormat(
    code=Path(__file__).with_name("pyfunc_model.py"),
    requirements=(
        "quanzi",
        "mlflow",
        "numpy",
        "pandas",
        "scikit-learn",
        "safetensors",
        "torch",
        "sentence-transformers",
        "transformers",
    ),
    example=input_example,
    records=input_records,
    signature=True,
)


def model_signature(example: pd.DataFrame, output: list[dict[str, Any]]) -> Any:
    """Inputs declared by hand (``author`` is free-form, only ``text`` is required);
    outputs inferred from the predictor's own answer on the example."""
    inputs = Schema(
        [
            ColSpec("string", "text"),
            ColSpec("string", "circle_id", required=False),
            ColSpec(AnyType(), "author", required=False),
            ColSpec("boolean", "verified_purchase", required=False),
        ]
    )
    outputs = infer_signature(example[["text"]], output).outputs
    return ModelSignature(inputs=inputs, outputs=outputs)


# ---------------------------------------------------------------- the run


@dataclass
class TrainedModel:
    """What ``train`` produced: the MLflow run, the registered version, the logged metrics
    and the trained predictor."""

    run_id: str
    version: str
    metrics: dict[str, float]
    predictor: Predictor


def run_task(
    task: Task, settings: Settings, small: bool, progress: ProgressCallback | None = None
) -> tuple[str, str]:
    """``train`` one task; returns ``(run_id, model_version)``."""
    trained = train(task, settings, small, progress)
    return trained.run_id, trained.version


def train(
    task: Task, settings: Settings, small: bool, progress: ProgressCallback | None = None
) -> TrainedModel:
    """Train, evaluate, log and register one task (the module docstring's order).

    Optional task hooks: ``preflight(settings)`` (checks before the MLflow store is
    touched), ``config_for(small)`` (the config logged as ``cfg.*``), ``run_params(data)``
    and ``fit_params(predictor)`` (more params), ``model_format`` (else ``TEXT_MODEL``).
    """
    # -- config
    preflight = getattr(task, "preflight", None)
    if preflight is not None:
        preflight(settings)
    fmt: ModelFormat = getattr(task, "model_format", TEXT_MODEL)
    use_experiment(settings, experiment_name(task))
    timings: dict[str, float] = {}
    with mlflow.start_run(run_name=f"train-{task.name}{'-small' if small else ''}") as run:
        mlflow.set_tags({"quanzi.task": task.name, "quanzi.small": str(small).lower()})
        mlflow.log_params(task_params(task, small))

        # -- data
        start = time.perf_counter()
        data = task.load_data(settings, small, progress=progress)
        timings["data_seconds"] = time.perf_counter() - start
        dataset_params = data_params(data)
        mlflow.log_params(dataset_params)
        if hasattr(task, "run_params"):
            mlflow.log_params(task.run_params(data))

        # -- model
        start = time.perf_counter()
        predictor = task.fit(data, settings, small)
        timings["fit_seconds"] = time.perf_counter() - start
        mlflow.log_params(encoder_params(predictor))
        if getattr(task, "config", None) is None and getattr(predictor, "config", None):
            resolved: dict[str, Any] = {}  # the config the task chose (e.g. its small one)
            _flatten("cfg", predictor.config, resolved)
            mlflow.log_params(resolved)
        if hasattr(task, "fit_params"):
            mlflow.log_params(task.fit_params(predictor))

        # -- evaluation
        start = time.perf_counter()
        evaluation = task.evaluate(predictor, data)
        timings["evaluate_seconds"] = time.perf_counter() - start
        metrics = check_metrics(task, evaluation.metrics)
        mlflow.log_metrics(metrics)
        for name, figure in evaluation.figures.items():  # matplotlib Figures, no pyplot
            mlflow.log_figure(figure, f"figures/{name}")
        for name, table in evaluation.tables.items():
            filename = name if name.endswith(".csv") else f"{name}.csv"
            mlflow.log_text(table.to_csv(index=False), f"tables/{filename}")

        # -- saving: the predictor folder must rebuild the same predictions
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="quanzi-model-") as tmp:
            model_dir = Path(tmp) / "model_dir"
            predictor.save(model_dir)
            example = fmt.example(data)
            records = fmt.records(example)
            output = task.load(model_dir).predict(records)
            if not _same_predictions(output, predictor.predict(records)):
                raise TaskContractError(
                    f"task {task.name}: the saved predictor predicts differently from the "
                    "trained one (save/load loses state)"
                )
            with warnings.catch_warnings():  # MLflow asks for type hints we leave out
                warnings.filterwarnings("ignore", message=".*type hint", category=UserWarning)
                warnings.filterwarnings(
                    "ignore", message="Hint: Inferred schema contains integer", category=UserWarning
                )  # outputs only
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=str(fmt.code),
                    artifacts={"model_dir": str(model_dir)},
                    model_config={"task": task.name},
                    signature=model_signature(example, output) if fmt.signature else None,
                    input_example=example if fmt.signature else None,
                    pip_requirements=pinned_requirements(*fmt.requirements),
                    registered_model_name=task.registered_model,
                    metadata={"task": task.name, "small": small},
                )
        timings["log_model_seconds"] = time.perf_counter() - start
        mlflow.log_metrics(timings)
        model_version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(task.registered_model, CHALLENGER, model_version)
        version_tags = {
            "task": task.name,
            "small": str(small).lower(),
            "primary_metric": task.primary_metric,
            "primary_value": repr(metrics[task.primary_metric]),
            "test_sha256": dataset_params["split.test.sha256"],
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(task.registered_model, model_version, key, value)
        return TrainedModel(run.info.run_id, model_version, metrics, predictor)
