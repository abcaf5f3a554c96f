"""``quanzi train ranker``: one MLflow run for the learned feed ranker.

Same shape as ``training/pipeline.run_task`` (params → data hashes → fit → metrics and
tables → model registered as ``quanzi-ranker`` with alias ``challenger``), but the model's
input is a feature row, not a text record, so the text pipeline's input example and
signature do not apply. ``quanzi promote quanzi-ranker`` then goes through the usual gate
(``training/promotion.py``) via ``RankerTask``; the service loads the champion with
``load_champion(settings, "ranker")``.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from quanzi.datasets.world.tables import require_world
from quanzi.models.champions import CHALLENGER
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.mlflow_utils import pinned_requirements
from quanzi.training.pipeline import TaskContractError, check_metrics, data_params, task_params
from quanzi.training.task_registry import use_experiment
from quanzi.training.tasks_impl.ranker import RankerTask

PYFUNC_CODE = Path(__file__).with_name("ranker_pyfunc.py")
REQUIREMENTS = ("quanzi", "mlflow", "numpy", "pandas")


def train_ranker(settings: Settings, task: RankerTask, small: bool,
                 progress: ProgressCallback | None = None
                 ) -> tuple[str, str, dict[str, float], Any]:
    """Train, evaluate, log and register; returns (run_id, version, metrics, ranker)."""
    # A missing world is the user's to fix: say so before creating the MLflow store.
    require_world(settings, task.world_name(settings))
    use_experiment(settings, task.name)
    timings: dict[str, float] = {}
    with mlflow.start_run(run_name=f"train-{task.name}{'-small' if small else ''}") as run:
        mlflow.set_tags({"quanzi.task": task.name, "quanzi.small": str(small).lower()})
        # the config actually used
        mlflow.log_params(task_params(replace(task, config=task.config.small()) if small
                                      else task, small))

        start = time.perf_counter()
        data = task.load_data(settings, small, progress=progress)
        timings["data_seconds"] = time.perf_counter() - start
        dataset = data_params(data)
        ranker_data = task.data()
        mlflow.log_params({**dataset, "world": ranker_data.world.name,
                           **{f"days.{k}": ",".join(v) for k, v in ranker_data.days.items()},
                           **{f"source.{k}": v[:500] for k, v in ranker_data.sources.items()}})

        start = time.perf_counter()
        ranker = task.fit(data, settings, small)
        timings["fit_seconds"] = time.perf_counter() - start
        chosen = {k: ranker.config[k] for k in ("objective", "C", "ipw", "feature_set",
                                                "train_set", "dev_requests")}
        mlflow.log_params({f"chosen.{k}": v for k, v in chosen.items()})

        start = time.perf_counter()
        evaluation = task.evaluate(ranker, data)
        timings["evaluate_seconds"] = time.perf_counter() - start
        metrics = check_metrics(task, evaluation.metrics)
        mlflow.log_metrics({**metrics, "dev_ndcg10_chosen_fast": ranker.config["dev_ndcg10"]})
        for name, table in evaluation.tables.items():
            mlflow.log_text(table.to_csv(index=False), f"tables/{name}.csv")
        mlflow.log_text(pd.DataFrame(ranker.config.get("trials", [])).to_csv(index=False),
                        "tables/dev_trials.csv")

        with tempfile.TemporaryDirectory(prefix="quanzi-ranker-") as tmp:
            model_dir = Path(tmp) / "model_dir"
            ranker.save(model_dir)
            rows = data.test.head(5).to_dict("records")
            if task.load(model_dir).predict(rows) != ranker.predict(rows):
                raise TaskContractError("the saved ranker scores differently from the trained "
                                        "one (save/load loses state)")
            with warnings.catch_warnings():  # MLflow asks for type hints we leave out
                warnings.filterwarnings("ignore", message=".*type hint", category=UserWarning)
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=str(PYFUNC_CODE),
                    artifacts={"model_dir": str(model_dir)},
                    pip_requirements=pinned_requirements(*REQUIREMENTS),
                    registered_model_name=task.registered_model,
                    metadata={"task": task.name, "small": small})
        mlflow.log_metrics(timings)
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(task.registered_model, CHALLENGER, version)
        for key, value in {"task": task.name, "small": str(small).lower(),
                           "primary_metric": task.primary_metric,
                           "primary_value": repr(metrics[task.primary_metric]),
                           "test_sha256": dataset["split.test.sha256"]}.items():
            client.set_model_version_tag(task.registered_model, version, key, value)
        return run.info.run_id, version, metrics, ranker
