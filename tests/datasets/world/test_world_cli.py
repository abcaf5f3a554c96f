"""`quanzi world …` commands: errors say what to fix; stats show the bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()


@pytest.fixture
def env(world: Path, world_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANZI_DATA_DIR", str(world_settings.data_dir))
    return world


def test_stats_prints_tables_and_bounds(env: Path) -> None:
    result = runner.invoke(app, ["world", "stats", env.name])
    assert result.exit_code == 0, result.output
    assert "friend_degree.mean" in result.output and "stated bounds" in result.output


def test_unknown_world_names_the_available_worlds(env: Path) -> None:
    result = runner.invoke(app, ["world", "stats", "nope"])
    assert result.exit_code == 2
    assert "no world named 'nope'" in result.output and env.name in result.output


def test_build_rejects_too_few_posts_with_a_hint(env: Path) -> None:
    result = runner.invoke(app, ["world", "build", "--posts", "5"])
    assert result.exit_code == 2
    assert "--posts must be at least 100" in result.output


def test_list_shows_built_worlds(env: Path) -> None:
    result = runner.invoke(app, ["world", "list"])
    assert result.exit_code == 0 and env.name in result.output


def test_build_with_explore_names_the_world_after_its_share_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path))
    result = runner.invoke(
        app, ["world", "build", "--posts", "100", "--seed", "2", "--explore", "0.25"]
    )
    assert result.exit_code == 0, result.output
    assert "p100-s2-x25" in result.output and "in random order" in result.output
    stats = runner.invoke(app, ["world", "stats", "p100-s2-x25"])
    assert stats.exit_code == 0 and "explore 0.25" in stats.output
    bad = runner.invoke(app, ["world", "build", "--posts", "100", "--explore", "1.5"])
    assert bad.exit_code == 2 and "--explore" in bad.output
