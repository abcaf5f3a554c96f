"""``quanzi bootstrap`` (what ``make serve`` runs first): schema, demo world built and
loaded once, pending posts backfilled, a development key; a re-run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.orm import Post

register_all()
runner = CliRunner()


def _statuses(settings: Settings) -> dict[str, int]:
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(Post.status, func.count()).group_by(Post.status)).all())
    finally:
        engine.dispose()


def test_bootstrap_prepares_the_demo_and_a_rerun_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QUANZI_ENV", "development")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    first = runner.invoke(app, ["bootstrap", "--posts", "300", "--seed", "3", "--no-train"])
    assert first.exit_code == 0, first.output
    settings = Settings(data_dir=data_dir, env="development")
    statuses = _statuses(settings)
    assert sum(statuses.values()) == 300 and "pending" not in statuses  # all backfilled
    assert statuses.get("pass", 0) > 200  # the world's honest posts pass the fallbacks
    key_file = data_dir / "dev-admin.key"
    assert key_file.is_file() and key_file.read_text().strip().startswith("qz_")
    key = key_file.read_text()

    again = runner.invoke(app, ["bootstrap", "--posts", "300", "--seed", "3", "--no-train"])
    assert again.exit_code == 0, again.output
    assert "already holds 300 posts" in again.output and "no pending posts" in again.output
    assert _statuses(settings) == statuses and key_file.read_text() == key


def test_bootstrap_reindexes_the_store_when_the_encoder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quanzi_tests.serving_models import build_tiny_encoder

    from quanzi.models.index.rebuild import posts_without_embedding
    from quanzi.models.loading import encoder_version

    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QUANZI_ENV", "test")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("QUANZI_ENCODER", str(build_tiny_encoder(tmp_path / "enc-a")))
    first = runner.invoke(app, ["bootstrap", "--posts", "120", "--seed", "3", "--no-train"])
    assert first.exit_code == 0, first.output
    assert "re-indexing" not in first.output  # the backfill embedded every post already

    monkeypatch.setenv("QUANZI_ENCODER", str(build_tiny_encoder(tmp_path / "enc-b")))
    settings = Settings()
    engine = engine_from_settings(settings)
    try:
        assert posts_without_embedding(engine, encoder_version(settings))  # a new encoder
        again = runner.invoke(app, ["bootstrap", "--posts", "120", "--seed", "3", "--no-train"])
        assert again.exit_code == 0, again.output
        assert "re-indexing" in again.output
        assert not posts_without_embedding(engine, encoder_version(settings))
        assert (settings.index_dir / encoder_version(settings)).is_dir()
    finally:
        engine.dispose()
