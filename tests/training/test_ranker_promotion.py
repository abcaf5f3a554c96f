"""``quanzi promote quanzi-ranker`` compares both versions on the challenger's world.

Tiny worlds in one data dir: the demo world (the task's default data), another world
without exploration requests, and one with a 50 % exploration bucket. The comparison must
load the world named by the challenger's run, never the default one, and gate on the
exploration requests where that world has them.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from quanzi.models.ranker import LinearRanker
from quanzi.settings import Settings
from quanzi.training.evaluators.ranker_evaluator import evaluate_days
from quanzi.training.tasks_impl.ranker import RankerTask, explore_gate
from quanzi.training.tasks_impl.ranker_config import RankerConfig
from quanzi.training.tasks_impl.ranker_data import load_ranker_data

SMALL = {"cfg.train_days": "6", "cfg.dev_days": "3"}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data dir with the demo world p400-s3 and the worlds tiny-b and tiny-x50."""
    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ranker-promotion"),
        env="test",
        demo_posts=400,
        demo_seed=3,
    )
    build_world(settings, 400, 3, progress=False)
    build_world(settings, 400, 5, name="tiny-b", progress=False)
    build_world(
        settings, 400, 3, name="tiny-x50", progress=False, config=WorldConfig(explore_fraction=0.5)
    )
    return settings


def _newest_first() -> LinearRanker:
    return LinearRanker(
        features=("log_age",), mean=np.zeros(1), scale=np.ones(1), weights=-np.ones(1)
    )


def test_a_challenger_from_another_world_is_compared_on_that_world_not_the_default(
    worlds: Settings,
) -> None:
    task = RankerTask()
    assert task.world_name(worlds) == "p400-s3"  # what re-evaluation used to load
    plan = task.comparison_for(worlds, {"world": "tiny-b", **SMALL}, True, load=True)
    assert plan.data is not None
    assert "world tiny-b (the challenger's training world)" in plan.compared_on
    assert "all requests" in plan.compared_on  # no exploration bucket there
    assert plan.gate == task.gate
    expected = load_ranker_data(worlds, RankerConfig(world="tiny-b").small(), test_only=True)
    default = load_ranker_data(worlds, RankerConfig().small(), test_only=True)
    assert not expected.test.frame.empty
    pd.testing.assert_frame_equal(plan.data.test, expected.test.frame)
    assert not plan.data.test[["post_id", "rel"]].equals(default.test.frame[["post_id", "rel"]])
    assert plan.data.train.empty and plan.data.dev.empty  # held-out days only
    metrics = task.evaluate(_newest_first(), plan.data).metrics
    assert metrics["test_ndcg10_learned"] == pytest.approx(
        evaluate_days(expected.test, _newest_first())["all"]["learned"]
    )
    assert not any(k.startswith("dev_") for k in metrics)  # no dev days were loaded


def test_on_an_exploring_world_the_gate_compares_the_exploration_requests(worlds: Settings) -> None:
    task = RankerTask()
    plan = task.comparison_for(worlds, {"world": "tiny-x50", **SMALL}, True, load=True)
    assert "world tiny-x50" in plan.compared_on
    assert "exploration requests only" in plan.compared_on
    assert plan.gate == {
        "test_explore_ndcg10_learned": (True, 0.005),
        "test_explore_ndcg10_learned_friendless": (True, 0.02),
        "test_explore_ndcg10_learned_silent": (True, 0.02),
    }
    assert plan.gate == explore_gate(task.gate)
    metrics = task.evaluate(_newest_first(), plan.data).metrics
    expected = load_ranker_data(worlds, RankerConfig(world="tiny-x50").small(), test_only=True)
    explore = evaluate_days(expected.test, _newest_first(), explore_only=True)["all"]
    every = evaluate_days(expected.test, _newest_first())["all"]
    assert explore["requests"] < every["requests"]  # a real subset, so the check can fail
    assert metrics["test_explore_ndcg10_learned"] == pytest.approx(explore["learned"])
    assert metrics["test_explore_requests"] == explore["requests"]
    for metric in plan.gate:
        assert metric in metrics


def test_logged_metrics_are_gated_under_the_challenger_runs_protocol(worlds: Settings) -> None:
    task = RankerTask()
    explored = task.comparison_for(
        worlds, {"world": "tiny-x50", "chosen.dev_requests": "exploration"}, False, load=False
    )
    assert explored.data is None and explored.gate == explore_gate(task.gate)
    assert "tiny-x50" in explored.compared_on and "exploration" in explored.compared_on
    plain = task.comparison_for(
        worlds, {"world": "tiny-b", "chosen.dev_requests": "all"}, False, load=False
    )
    assert plain.gate == task.gate and "all held-out requests" in plain.compared_on


def test_a_challenger_world_missing_here_is_a_clear_error(worlds: Settings) -> None:
    with pytest.raises(FileNotFoundError, match=r"trained on world 'gone'.*quanzi world build"):
        RankerTask().comparison_for(worlds, {"world": "gone", **SMALL}, True, load=True)


@pytest.mark.slow  # ≈ 30–40 s on 2 shared cores: two small trainings, MLflow, promote
def test_promote_re_evaluates_both_versions_on_the_challengers_exploring_world(
    worlds: Settings, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from quanzi.models.champions import download_model_version, mlflow_client
    from quanzi.training.pipeline import train
    from quanzi.training.promotion import promote

    settings = worlds.model_copy(update={"data_dir": tmp_path_factory.mktemp("store")})
    monkeypatch.setenv("QUANZI_DATA_DIR", str(settings.data_dir))
    importlib.import_module("quanzi_tests.fake_tasks").mlflow_store(
        settings.data_dir, tmp_path_factory.getbasetemp()
    )
    settings.worlds_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.worlds_dir.symlink_to(worlds.worlds_dir, target_is_directory=True)
    for world in ("p400-s3", "tiny-x50"):  # champion on the demo world, challenger on B
        task = RankerTask(config=replace(RankerConfig(), world=world))
        train(task, settings, small=True)
        if world == "p400-s3":
            assert promote(settings, "ranker").decision == "first"
    client = mlflow_client(settings)
    logged = client.get_run(
        client.get_model_version_by_alias("quanzi-ranker", "challenger").run_id
    ).data.metrics

    result = promote(settings, "quanzi-ranker", force=True, reason="test")
    assert result.compared_on.startswith("re-evaluated on world tiny-x50 (the challenger's")
    assert "exploration requests only" in result.compared_on
    overall = result.gate.lines[0]
    assert overall.startswith("test_explore_ndcg10_learned: challenger")
    # the challenger re-evaluated there scores what its own run logged on that protocol
    assert f"challenger {logged['test_explore_ndcg10_learned']:.4f}," in overall
    champion = LinearRanker.load(download_model_version(settings, "quanzi-ranker", "1"))
    data = load_ranker_data(settings, RankerConfig(world="tiny-x50").small(), test_only=True)
    value = evaluate_days(data.test, champion, explore_only=True)["all"]["learned"]
    assert f"champion {value:.4f}," in overall
    tags = client.get_model_version("quanzi-ranker", "2").tags
    assert "world tiny-x50" in tags["promotion_compared_on"]
