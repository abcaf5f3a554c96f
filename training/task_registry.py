"""Which training tasks exist, found by name (``quanzi train NAME``, ``quanzi promote``).

Task implementations import heavy libraries (torch, the encoder, the corpora), so they
are imported only when a task is asked for by name: ``quanzi --help`` and ``quanzi
models`` stay fast, and a missing implementation is a one-line error, not an ImportError
at start-up. Which *predictor* loads a task's saved model is ``models/champions.py``'s
table; a task registered here by assignment (tests' small tasks) is added there too.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import mlflow

from quanzi.models.champions import PREDICTORS, PredictorKind, mlflow_client, registered_name
from quanzi.settings import Settings
from quanzi.training.tasks import Task

# Task name → module exporting ``TASK``; `quanzi train all` runs them in this order.
TASK_MODULES: dict[str, str] = {
    "moderation": "quanzi.training.tasks_impl.moderation",
    "quality": "quanzi.training.tasks_impl.quality",
    "trust": "quanzi.training.tasks_impl.trust",
}
PROMOTIONS_EXPERIMENT = "promotions"


class UnknownTaskError(KeyError):
    """A task name nobody implements (or whose module is not written yet).

    A ``KeyError``, so ``TASKS.get(name)`` answers None as for any mapping."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TaskRegistry(MutableMapping[str, Task]):
    """``name → Task``, importing ``TASK_MODULES[name]`` on first access.

    Assigning an entry (``TASKS["fake"] = task``) registers a task without a module, and
    its predictor in ``models.champions.PREDICTORS`` (so ``load_champion`` and the pyfunc
    wrapper load it): tests use it for small real models, and nothing else needs to know.
    """

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = modules
        self._loaded: dict[str, Task] = {}

    def __getitem__(self, name: str) -> Task:
        if name in self._loaded:
            return self._loaded[name]
        module_name = self._modules.get(name)
        if module_name is None:
            raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(self)}")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise UnknownTaskError(
                f"task {name!r} is not implemented in this checkout ({module_name} is missing)"
            ) from exc
        task = getattr(module, "TASK", None)
        if task is None:
            raise UnknownTaskError(f"{module_name} does not export TASK")
        self._loaded[name] = task
        return task

    def __setitem__(self, name: str, task: Task) -> None:
        self._loaded[name] = task
        PREDICTORS[name] = PredictorKind(task.registered_model, task.load)

    def __delitem__(self, name: str) -> None:
        if name not in self._loaded:
            raise KeyError(name)
        del self._loaded[name]
        if name not in self._modules:  # the product's own tasks keep their predictors
            PREDICTORS.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._modules
        yield from (name for name in self._loaded if name not in self._modules)

    def __len__(self) -> int:
        return len(set(self._modules) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._modules or name in self._loaded


# The learned feed ranker is a task too (promotion, ``load_champion``), but not one of the
# text models `quanzi train all` and bootstrap run: it trains from a circle world's logs.
RANKER_MODULE = "quanzi.training.tasks_impl.ranker"
# The Q&A models likewise: the hand-written set and a world's logged invites.
QA_MODULE = "quanzi.training.tasks_impl.qa"
TASKS = TaskRegistry({**TASK_MODULES, "ranker": RANKER_MODULE, "qa": QA_MODULE})


def resolve_task(name: str) -> Task:
    """Find a task by its own name or its registered model's (``quality``/``quanzi-quality``)."""
    if name in TASKS:
        return TASKS[name]
    for task_name in list(TASKS):
        if registered_name(task_name) == name:
            return TASKS[task_name]
    raise UnknownTaskError(
        f"unknown model {name!r}; give a task ({', '.join(TASKS)}) or its registered name "
        f"({', '.join(registered_name(t) for t in TASKS)})"
    )


def use_experiment(settings: Settings, experiment: str) -> str:
    """Point MLflow's fluent API at this data dir's store and select ``experiment``.

    Like ``mlflow_utils.configure_mlflow``, but artifacts go to the data dir only for a
    local store (SQLite or file); a tracking server keeps its own artifact root, since a
    client's local path would mean nothing to it or to other clients.
    """
    settings.ensure_dirs()
    uri = settings.resolved_mlflow_uri
    mlflow_client(settings)  # quiets MLflow's loggers
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
        location = (settings.mlflow_artifacts_dir / experiment).as_uri() if local else None
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
