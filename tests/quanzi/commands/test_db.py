"""``quanzi db upgrade`` and ``quanzi db check`` on the configured database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()


def test_check_fails_until_upgrade_then_reports_head(settings: Settings) -> None:
    before = runner.invoke(app, ["db", "check"])
    assert before.exit_code == 1
    assert "none (empty database)" in before.output
    assert "quanzi db upgrade" in before.output

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    after = runner.invoke(app, ["db", "check"])
    assert after.exit_code == 0, after.output
    assert "sqlite+pysqlite" in after.output
    assert "up to date" in after.output


@pytest.mark.parametrize("command", ["check", "upgrade"])
def test_bad_database_url_is_a_one_line_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("QUANZI_DATABASE_URL", "not a url")
    result = runner.invoke(app, ["db", command])
    assert result.exit_code == 2
    assert "QUANZI_DATABASE_URL" in result.output
    assert "Traceback" not in result.output
