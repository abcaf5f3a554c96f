"""``quanzi keys create|list|revoke``: the key is printed once, alone, and only its hash kept."""

from __future__ import annotations

from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings
from quanzi.storage.api_keys import verify_key
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema

register_all()
runner = CliRunner()


def _verify(settings: Settings, key: str) -> str | None:
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine)() as session:
            principal = verify_key(session, key)
            return principal.role if principal else None
    finally:
        engine.dispose()


def test_create_prints_only_the_key_on_stdout(settings: Settings) -> None:
    upgrade_schema(settings)
    result = runner.invoke(app, ["keys", "create", "--role", "editor", "--name", "alice"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("qz_") and "\n" not in key
    assert "not shown again" in result.stderr
    assert _verify(settings, key) == "editor"

    listed = runner.invoke(app, ["keys", "list"])
    assert "alice" in listed.stdout and "editor" in listed.stdout
    assert key not in listed.stdout and key.split("_", 2)[2] not in listed.stdout

    revoked = runner.invoke(app, ["keys", "revoke", key.split("_")[1]])
    assert revoked.exit_code == 0 and "revoked key 1" in revoked.stdout
    assert _verify(settings, key) is None


def test_bad_input_is_a_one_line_error(settings: Settings) -> None:
    missing_schema = runner.invoke(app, ["keys", "list"])
    assert missing_schema.exit_code == 2 and "quanzi db upgrade" in missing_schema.output
    upgrade_schema(settings)
    bad_role = runner.invoke(app, ["keys", "create", "--role", "root"])
    assert bad_role.exit_code == 2 and "feed-service" in bad_role.output
    unknown = runner.invoke(app, ["keys", "revoke", "42"])
    assert unknown.exit_code == 2 and "no API key with id or prefix '42'" in unknown.output
    assert "Traceback" not in unknown.output
