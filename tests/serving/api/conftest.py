"""Fixtures for routes behind real API keys: ``api`` checks keys, ``keys`` holds one per role.

``seed`` here is the parent conftest's, made faster: the SQLite schema is migrated once per
test session and copied into each test's data dir instead of migrated per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quanzi.serving.app import create_app
from quanzi.serving.keys import ROLES, create_key
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema, upgrade_url


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "quanzi.db"
    upgrade_url(f"sqlite:///{path}")
    return path


@pytest.fixture
def seed(settings: Settings, factory_class: type,
         _migrated_sqlite_template: Path) -> Callable[[Callable[[Any], Any]], Any]:
    """``seed(build)``: give the app's database the schema, run ``build(factory)``, commit."""

    def run(build: Callable[[Any], Any]) -> Any:
        database = settings.data_dir / "quanzi.db"
        if settings.database_url is None and not database.exists():
            settings.ensure_dirs()
            shutil.copyfile(_migrated_sqlite_template, database)
        else:
            upgrade_schema(settings)
        engine = engine_from_settings(settings)
        try:
            with session_factory(engine).begin() as session:
                return build(factory_class(session))
        finally:
            engine.dispose()

    return run


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """The app with its real key checks (``client`` instead lets every request in as admin)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def keys(seed: Callable[[Callable[[Any], Any]], Any]) -> dict[str, dict[str, str]]:
    """Request headers carrying a fresh key of each role, named ``<role>-1``."""

    def build(f: Any) -> dict[str, dict[str, str]]:
        return {role: {"Authorization": f"Bearer {create_key(f.session, role, f'{role}-1')[1]}"}
                for role in ROLES}

    return seed(build)
