"""The one settings object: environment in, typed values out, unsafe values refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quanzi.settings import Settings


def test_defaults_keep_all_state_under_the_data_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QUANZI_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("QUANZI_DATABASE_URL", raising=False)
    s = Settings()
    for path in (s.worlds_dir, s.index_dir, s.models_dir, s.cache_dir, s.mlflow_artifacts_dir):
        assert path.is_relative_to(s.data_dir)
    assert str(s.data_dir) in s.resolved_database_url
    assert str(s.data_dir) in s.resolved_mlflow_uri


def test_two_data_dirs_do_not_share_a_database(tmp_path) -> None:
    a = Settings(data_dir=tmp_path / "a")
    b = Settings(data_dir=tmp_path / "b")
    assert a.resolved_database_url != b.resolved_database_url
    assert a.resolved_mlflow_uri != b.resolved_mlflow_uri


def test_mlflow_uri_comes_from_the_standard_variable(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert Settings().resolved_mlflow_uri == "http://mlflow.internal:5000"


def test_production_refuses_the_sqlite_default(monkeypatch) -> None:
    monkeypatch.setenv("QUANZI_ENV", "production")
    monkeypatch.delenv("QUANZI_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="QUANZI_DATABASE_URL"):
        Settings()


def test_bad_values_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("QUANZI_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()


def test_readme_configuration_table_lists_every_variable() -> None:
    from pathlib import Path

    from quanzi.settings import settings_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- settings-table:start -->")[1].split("<!-- settings-table:end -->")[0]
    assert block.strip() == settings_table().strip(), "run: quanzi config --markdown"
