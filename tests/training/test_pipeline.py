"""The MLflow pipeline: run_task logs and registers, promotion gates, load_champion caches.

Uses a small real task (logistic regression on character counts, ``tests/utils/
fake_tasks.py``) so the pipeline is tested apart from the product models.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from quanzi.models.champions import download_model_version, load_champion, mlflow_client
from quanzi.settings import Settings
from quanzi.training.pipeline import TaskContractError, run_task
from quanzi.training.promotion import PromotionError, list_versions, promote
from quanzi.training.task_registry import TASKS, TaskRegistry, UnknownTaskError, resolve_task
from quanzi.training.tasks import Comparison, Evaluation, TaskData


def _load_fake_tasks() -> ModuleType:
    return importlib.import_module("quanzi_tests.fake_tasks")


fake_tasks = _load_fake_tasks()


@pytest.fixture
def store(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """``settings`` with an empty MLflow store of its own in the data dir."""
    fake_tasks.mlflow_store(settings.data_dir, tmp_path_factory.getbasetemp())
    return settings


def _register(monkeypatch: pytest.MonkeyPatch, task: object, name: str = "fake") -> None:
    monkeypatch.setitem(TASKS, name, task)


def test_run_task_registers_challenger_with_params_metrics_and_artifacts(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    run_id, version = run_task(task, store, small=True)

    client = mlflow_client(store)
    assert str(client.get_model_version_by_alias("quanzi-fake", "challenger").version) == version
    run = client.get_run(run_id)
    assert run.data.params["small"] == "True"
    assert run.data.params["task"] == "fake"
    assert run.data.params["data.synthetic"] == "seed-3"
    assert run.data.params["split.test.rows"] == "60"
    assert len(run.data.params["split.test.sha256"]) == 64
    assert run.data.params["gate.test_accuracy"] == "max tol=0.02"
    assert run.data.params["cfg.degrade"] == "False"
    assert run.data.metrics["test_accuracy"] > 0.9  # the model really learned
    assert {"dev_accuracy", "test_log_loss", "fit_seconds"} <= run.data.metrics.keys()
    artifacts = {a.path for a in client.list_artifacts(run_id, "figures")}
    assert {"figures/test_confusion.png", "figures/test_pr.png"} <= artifacts
    assert [a.path for a in client.list_artifacts(run_id, "tables")] == [
        "tables/test_predictions.csv"
    ]
    mv = client.get_model_version("quanzi-fake", version)
    assert mv.tags["primary_metric"] == "test_accuracy" and mv.tags["small"] == "true"


def test_logged_model_has_signature_example_and_predicts_through_pyfunc(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.models import get_model_info

    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    _, version = run_task(task, store, small=True)
    uri = f"models:/quanzi-fake/{version}"
    info = get_model_info(uri)
    assert info.signature is not None
    assert info.signature.inputs.input_names() == [
        "text",
        "circle_id",
        "author",
        "verified_purchase",
    ]
    assert info.saved_input_example_info is not None
    model = mlflow.pyfunc.load_model(uri)
    records = [{"text": "加我 13812345678"}, {"text": "物流很快，包装完好", "circle_id": "c1"}]
    out = model.predict(records)
    assert out[0]["decision"] == "reject" and out[1]["decision"] == "pass"
    direct = task.load(download_model_version(store, "quanzi-fake", version))
    assert out == direct.predict(records)


def test_promote_makes_the_first_version_champion_then_accepts_an_equal_one(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    run_task(task, store, small=True)
    first = promote(store, "fake")
    assert first.decision == "first" and first.promoted

    _, second = run_task(task, store, small=True)
    result = promote(store, "quanzi-fake")
    assert result.decision == "passed", result.gate.lines
    assert result.compared_on == "logged test metrics"
    client = mlflow_client(store)
    assert str(client.get_model_version_by_alias("quanzi-fake", "champion").version) == second
    assert promote(store, "fake").decision == "unchanged"


def test_promote_refuses_a_worse_model_and_force_overrides_on_record(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = fake_tasks.CharCountTask()
    _register(monkeypatch, good)
    _, good_version = run_task(good, store, small=True)
    promote(store, "fake")

    worse = fake_tasks.CharCountTask(degrade=True)  # trained on shuffled labels
    _register(monkeypatch, worse)
    _, worse_version = run_task(worse, store, small=True)
    refused = promote(store, "fake")
    client = mlflow_client(store)
    assert refused.decision == "refused" and not refused.promoted
    assert any("test_accuracy" in line and "failed" in line for line in refused.gate.lines)
    champion = client.get_model_version_by_alias("quanzi-fake", "champion")
    assert str(champion.version) == good_version
    assert client.get_model_version("quanzi-fake", worse_version).tags["promotion"] == "refused"

    forced = promote(store, "fake", force=True, reason="incident 42: roll forward")
    assert forced.decision == "forced"
    champion = client.get_model_version_by_alias("quanzi-fake", "champion")
    assert str(champion.version) == worse_version
    tags = client.get_model_version("quanzi-fake", worse_version).tags
    assert tags["promotion"] == "forced"
    assert tags["promotion_reason"] == "incident 42: roll forward"
    experiment = client.get_experiment_by_name("promotions")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`quanzi.forced` = 'true'"
    )
    assert len(runs) == 1 and runs[0].data.params["reason"] == "incident 42: roll forward"


def test_promote_reevaluates_both_models_when_the_test_sets_differ(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_tasks.CharCountTask(test_seed=3)
    _register(monkeypatch, old)
    run_task(old, store, small=True)
    promote(store, "fake")
    new = fake_tasks.CharCountTask(test_seed=4)  # a different test set
    _register(monkeypatch, new)
    run_task(new, store, small=True)
    result = promote(store, "fake")
    assert result.compared_on.startswith("re-evaluated on current test sets")
    assert result.decision == "passed", result.gate.lines


class WorldTask(fake_tasks.CharCountTask):
    """A task whose ``comparison_for`` re-evaluates on the test set named by the
    challenger's run (``cfg.world``, its test seed) and gates on log loss only."""

    def __init__(self, world: int) -> None:
        super().__init__(test_seed=world)
        self.config = {**self.config, "world": world}
        self.calls: list[tuple[dict[str, str], bool]] = []
        self.evaluated_on: list[str] = []

    def comparison_for(
        self,
        settings: Settings,
        run_params: dict[str, str],
        small: bool,
        load: bool,
        progress: object = None,
    ) -> Comparison:
        self.calls.append((run_params, load))
        gate = {"test_log_loss": (False, 0.05)}
        if not load:
            return Comparison("logged on my world", gate)
        world = int(run_params["cfg.world"])
        data = TaskData(
            train=fake_tasks.make_frame(4, 1),
            dev=fake_tasks.make_frame(4, 2),
            test=fake_tasks.make_frame(60, world + 100),
            hashes={"synthetic": f"world-{world}"},
        )
        return Comparison(f"world {world}", gate, data)

    def evaluate(self, predictor: object, data: TaskData) -> Evaluation:
        self.evaluated_on.append(data.hashes["synthetic"])
        return super().evaluate(predictor, data)


def test_promote_reevaluates_both_versions_where_the_challengers_comparison_for_says(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, WorldTask(world=3))
    run_task(TASKS["fake"], store, small=True)
    promote(store, "fake")
    new = WorldTask(world=4)  # trained on another test set: re-evaluation
    _register(monkeypatch, new)
    run_task(new, store, small=True)
    new.evaluated_on.clear()
    result = promote(store, "fake")
    assert [(params["cfg.world"], load) for params, load in new.calls] == [("4", True)]
    assert new.evaluated_on == ["world-4", "world-4"]  # both versions, challenger's data
    assert result.compared_on == "re-evaluated on world 4 (small)"
    assert [line.split(":")[0] for line in result.gate.lines] == ["test_log_loss"]
    assert result.decision == "passed", result.gate.lines

    again = WorldTask(world=4)  # same test set as the champion: logged metrics
    _register(monkeypatch, again)
    run_task(again, store, small=True)
    again.evaluated_on.clear()
    result = promote(store, "fake")
    assert [load for _, load in again.calls] == [False] and again.evaluated_on == []
    assert result.compared_on == "logged on my world"
    assert [line.split(":")[0] for line in result.gate.lines] == ["test_log_loss"]


def test_promote_without_challenger_says_what_to_run(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, fake_tasks.CharCountTask())
    with pytest.raises(PromotionError, match="run `quanzi train fake`"):
        promote(store, "fake")


def test_load_champion_is_none_then_loads_and_works_from_cache_offline(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    assert load_champion(store, "fake") is None
    run_task(task, store, small=True)
    assert load_champion(store, "fake") is None  # a challenger is not a champion
    promote(store, "fake")
    predictor = load_champion(store, "fake")
    assert predictor is not None
    assert predictor.predict([{"text": "加我 13912345678"}])[0]["decision"] == "reject"
    assert (store.models_dir / "quanzi-fake" / "v1" / "artifacts" / "model_dir").is_dir()

    unreachable = store.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{store.data_dir / 'missing' / 'nope.db'}"}
    )
    offline = load_champion(unreachable, "fake")
    assert offline is not None
    assert offline.predict([{"text": "好"}]) == predictor.predict([{"text": "好"}])


def test_list_versions_shows_aliases_and_primary_metric(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    run_task(task, store, small=True)
    promote(store, "fake")
    run_task(task, store, small=True)
    rows = list_versions(store)
    assert [(r["version"], r["aliases"]) for r in rows] == [
        ("1", ["champion"]),
        ("2", ["challenger"]),
    ]
    assert rows[0]["primary_metric"] == "test_accuracy" and float(rows[0]["primary_value"]) > 0.9


def test_run_task_refuses_a_task_that_omits_a_gate_metric(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = fake_tasks.CharCountTask()
    task.gate = {**task.gate, "test_f1": (True, 0.01)}
    _register(monkeypatch, task)
    with pytest.raises(TaskContractError, match="test_f1"):
        run_task(task, store, small=True)


def test_registry_names_a_task_whose_module_is_missing() -> None:
    registry = TaskRegistry({"ghost": "quanzi.training.tasks_impl.ghost"})
    assert "ghost" in registry and registry.get("ghost") is None
    with pytest.raises(UnknownTaskError, match="not implemented"):
        registry["ghost"]
    with pytest.raises(UnknownTaskError, match="unknown task 'nope'"):
        registry["nope"]


def test_resolve_task_accepts_task_or_registered_name(monkeypatch: pytest.MonkeyPatch) -> None:
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    assert resolve_task("fake") is task and resolve_task("quanzi-fake") is task


def test_mlflow_tracking_uri_moves_runs_and_models_out_of_the_data_dir(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    fake_tasks.mlflow_store(elsewhere, tmp_path_factory.getbasetemp())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'mlflow.db'}")
    moved = Settings(data_dir=settings.data_dir)
    task = fake_tasks.CharCountTask()
    _register(monkeypatch, task)
    run_task(task, moved, small=True)
    assert not (settings.data_dir / "mlflow.db").exists()
    assert [r["version"] for r in list_versions(moved)] == ["1"]
