"""`quanzi eval ask-weights` refuses bad input with a message saying what to fix."""

from __future__ import annotations

from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all

register_all()
runner = CliRunner()


def test_weights_that_are_not_numbers_are_a_clear_error() -> None:
    result = runner.invoke(app, ["eval", "ask-weights", "--weights", "1,two"])
    assert result.exit_code != 0
    assert "numbers separated by commas" in result.output


def test_a_window_that_ends_before_the_fit_is_a_clear_error() -> None:
    result = runner.invoke(
        app, ["eval", "ask-weights", "--fit-share", "0.7", "--until-share", "0.6"]
    )
    assert result.exit_code != 0
    assert "--until-share must be above --fit-share" in result.output
