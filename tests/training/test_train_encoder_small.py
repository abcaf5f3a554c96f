"""`quanzi train encoder --small` trains, saves a loadable model and registers it in MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()


def test_small_run_registers_a_model_version_in_the_temp_mlflow_store(
    tiny_corpora: Path, tmp_path: Path
) -> None:
    import mlflow
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "encoder",
            "--small",
            "--set",
            "teacher=hashing",
            "--set",
            "corpora=waimai",
            "--set",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    settings = Settings()
    assert str(settings.data_dir) in settings.resolved_mlflow_uri  # the test's temp store
    client = mlflow.MlflowClient(
        settings.resolved_mlflow_uri, registry_uri=settings.resolved_mlflow_uri
    )
    versions = client.search_model_versions("name='quanzi-encoder'")
    assert [str(v.version) for v in versions] == ["1"]
    assert str(client.get_model_version_by_alias("quanzi-encoder", "candidate").version) == "1"
    run = client.get_run(versions[0].run_id)
    assert "dev_cosine_to_teacher" in run.data.metrics
    assert client.get_metric_history(run.info.run_id, "train_loss")  # a loss curve
    model = SentenceTransformer(str(out), device="cpu")
    assert model.encode(["送餐太慢"]).shape == (1, 64)  # the hashing teacher's width
    assert (out / "quanzi_train_config.json").is_file()


def test_unknown_override_fails_with_a_message_not_a_traceback() -> None:
    result = runner.invoke(app, ["train", "encoder", "--small", "--set", "lr_rate=1"])
    assert result.exit_code == 2
    assert "unknown config key" in result.output


def test_backbone_student_distils_from_the_backbone_teacher(
    tiny_corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The v2 recipe end to end on a tiny backbone: cut + pruned student, e5 teacher."""
    from quanzi_tests.tiny_e5 import write_tiny_e5
    from sentence_transformers import SentenceTransformer

    _, backbone, _ = write_tiny_e5(tmp_path / "tiny-e5")
    monkeypatch.setenv("QUANZI_BACKBONE", str(backbone))
    out = tmp_path / "student"
    args = [
        "train",
        "encoder",
        "--small",
        "--set",
        "init=backbone",
        "--set",
        "teacher=e5",
        "--set",
        "student_layers=1",
        "--set",
        "corpora=waimai",
        "--set",
        f"output_dir={out}",
        "--set",
        "register=false",
        "--set",
        "lr=1e-4",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    model = SentenceTransformer(str(out), device="cpu")
    assert len(model[0].auto_model.encoder.layer) == 1
    assert model.encode(["送餐太慢"]).shape == (1, 64)  # the tiny backbone's width
    assert not (out / "checkpoint.pt").exists()  # superseded by the saved model


def test_a_trained_student_continues_with_the_same_category_term(
    tiny_corpora: Path, tmp_path: Path
) -> None:
    """``init_model`` continues from a saved student (its tokenizer and width kept) and
    ``category_weight`` adds the category term; the run records both in its config."""
    import json

    from sentence_transformers import SentenceTransformer

    first, second = tmp_path / "first", tmp_path / "second"
    base = ["train", "encoder", "--small", "--set", "teacher=hashing", "--set", "corpora=waimai"]
    base += ["--set", "register=false"]
    assert runner.invoke(app, [*base, "--set", f"output_dir={first}"]).exit_code == 0
    result = runner.invoke(
        app,
        [
            *base,
            "--set",
            f"init_model={first}",
            "--set",
            "category_weight=0.5",
            "--set",
            f"output_dir={second}",
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((second / "quanzi_train_config.json").read_text(encoding="utf-8"))
    assert config["init_model"] == str(first) and config["category_weight"] == 0.5
    before = SentenceTransformer(str(first), device="cpu").encode(["送餐太慢"])
    after = SentenceTransformer(str(second), device="cpu").encode(["送餐太慢"])
    assert after.shape == before.shape
    assert not (before == after).all()  # it trained


def test_init_model_that_is_not_a_folder_is_a_clear_error(tiny_corpora: Path) -> None:
    result = runner.invoke(
        app, ["train", "encoder", "--small", "--set", "init_model=/nonexistent/model"]
    )
    assert result.exit_code != 0
    assert "init_model" in result.output
