"""Task configs: defaults, then a file, then dotted --set overrides; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.training.task_config import ConfigError, resolve_task_config
from quanzi.training.tasks_impl.moderation import ModerationTask
from quanzi.training.tasks_impl.moderation_config import ModerationConfig
from quanzi.training.tasks_impl.quality import QualityConfig, QualityTask

register_all()
runner = CliRunner()


def test_override_wins_over_file_which_wins_over_the_small_defaults(tmp_path: Path) -> None:
    file = tmp_path / "moderation.toml"
    file.write_text(
        "cold_limit = 500\n[contact]\nn_train = 700\nn_dev = 150\n[models.ad]\nC = 2.0\n"
    )
    base = ModerationTask().config_for(small=True)
    cfg = resolve_task_config(base, file, ["contact.n_dev=90", "reject_precision.ad=0.97"])
    assert (cfg.cold_limit, cfg.contact.n_train, cfg.contact.n_dev) == (500, 700, 90)
    assert cfg.models["ad"].C == 2.0 and cfg.models["ad"].tf == base.models["ad"].tf
    assert cfg.reject_precision == {**base.reject_precision, "ad": 0.97}
    assert cfg.spam == base.spam  # untouched nested configs keep the small defaults


def test_values_are_read_as_toml_and_checked_against_the_field_type() -> None:
    cfg = resolve_task_config(
        QualityConfig(), overrides=["C_grid=[1, 3]", "use_encoder=auto", "tfidf.min_df=1"]
    )
    assert (cfg.C_grid, cfg.use_encoder, cfg.tfidf.min_df) == ((1.0, 3.0), "auto", 1)
    assert resolve_task_config(ModerationConfig(), overrides=["cold_limit=none"]).cold_limit is None
    with pytest.raises(ConfigError, match="cold_limit: expected int"):
        resolve_task_config(ModerationConfig(), overrides=["cold_limit=many"])
    with pytest.raises(ConfigError, match="C_grid: expected an array"):
        resolve_task_config(QualityConfig(), overrides=["C_grid=3"])


def test_unknown_keys_are_errors_naming_the_key_and_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"\['contact.n_trian'\].*n_train"):
        resolve_task_config(ModerationConfig(), overrides=["contact.n_trian=5"])
    with pytest.raises(ConfigError, match="key=value"):
        resolve_task_config(ModerationConfig(), overrides=["seed"])


def test_a_task_trains_with_the_resolved_config() -> None:
    cfg = resolve_task_config(QualityConfig(), overrides=["seed=3"])
    assert QualityTask().using(cfg).config_for(small=False).seed == 3
    assert ModerationTask().using(ModerationConfig(seed=4)).config_for(small=True).seed == 4


def test_train_cli_refuses_an_unknown_key_before_training() -> None:
    result = runner.invoke(app, ["train", "quality", "--small", "--set", "sed=3"])
    assert result.exit_code == 2
    assert "unknown config key" in result.output and "seed" in result.output
