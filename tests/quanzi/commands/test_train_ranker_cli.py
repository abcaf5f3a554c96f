"""``quanzi train ranker --small`` → MLflow → ``quanzi promote quanzi-ranker`` → served."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()
fake_tasks = importlib.import_module("quanzi_tests.fake_tasks")


@pytest.mark.slow  # ≈ 25–35 s on 2 shared cores: world, 12 hydrated days, MLflow, promote
def test_train_ranker_small_registers_a_challenger_that_promotes_and_serves(
    settings: Settings, tmp_path_factory
) -> None:
    from quanzi.datasets.world.build import build_world
    from quanzi.models.champions import (
        CHALLENGER,
        load_champion,
        mlflow_client,
        version_by_alias,
    )
    from quanzi.models.loading import load_models
    from quanzi.models.ranker import LinearRanker

    fake_tasks.mlflow_store(settings.data_dir, tmp_path_factory.getbasetemp())
    build_world(settings, 300, 5, name="tiny", progress=False)

    trained = runner.invoke(app, ["train", "ranker", "--world", "tiny", "--small"])
    assert trained.exit_code == 0, trained.output
    assert "registered quanzi-ranker version 1 as challenger" in trained.output
    assert "recency" in trained.output and "friendless" in trained.output
    assert "eligible set" in trained.output and "unfiltered" in trained.output
    client = mlflow_client(settings)
    version = version_by_alias(client, "quanzi-ranker", CHALLENGER)
    run = client.get_run(version.run_id).data
    assert run.params["world"] == "tiny" and run.params["small"] == "True"
    for metric in (
        "test_ndcg10_learned",
        "test_ndcg10_recency",
        "test_ndcg10_popularity",
        "test_ndcg10_pipeline",
        "dev_ndcg10_learned",
        "test_debiased_ndcg10_learned",
        "test_unfiltered_ndcg10_learned",
        "test_unfiltered_ndcg10_recency",
    ):
        assert 0.0 <= run.metrics[metric] <= 1.0
    lo, gain, hi = (run.metrics[f"test_gain_vs_recency{end}"] for end in ("_lo", "", "_hi"))
    assert lo <= gain <= hi
    assert gain == pytest.approx(
        run.metrics["test_ndcg10_learned"] - run.metrics["test_ndcg10_recency"], abs=1e-9
    )

    promoted = runner.invoke(app, ["promote", "quanzi-ranker"])
    assert promoted.exit_code == 0, promoted.output
    ranker = load_champion(settings, "ranker")
    assert isinstance(ranker, LinearRanker) and np.all(np.isfinite(ranker.weights))
    served = load_models(
        settings.model_copy(update={"encoder": str(tmp_path_factory.mktemp("no-encoder"))})
    )
    assert isinstance(served.ranker, LinearRanker) and served.ranker.version == "1"


def test_train_ranker_on_a_missing_world_says_what_to_do(settings: Settings) -> None:
    result = runner.invoke(app, ["train", "ranker", "--world", "nope", "--small"])
    assert result.exit_code == 2
    assert "quanzi world build" in result.output and "Traceback" not in result.output
    assert not (settings.data_dir / "mlflow.db").exists()  # nothing created before the check


def test_without_a_ranker_champion_the_service_loads_none(settings: Settings) -> None:
    from quanzi.models.loading import load_models

    loaded = load_models(settings.model_copy(update={"encoder": str(settings.data_dir / "x")}))
    assert loaded.ranker is None
    assert "ranker" not in loaded.degraded  # the weighted scorer serves by default
