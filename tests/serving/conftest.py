"""A TestClient on an app whose store is a temporary SQLite database, seeded by factories."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quanzi.serving.api.deps import authenticate
from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import Principal
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema, upgrade_url


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "quanzi.db"
    upgrade_url(f"sqlite:///{path}")
    return path


@pytest.fixture
def seed(
    settings: Settings, factory_class: type, _migrated_sqlite_template: Path
) -> Callable[[Callable[[Any], Any]], Any]:
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
def client(settings: Settings) -> Iterator[TestClient]:
    """The app on ``settings``; its lifespan runs (engine opened, disposed at exit).

    Every request counts as an admin's: these tests are about what routes return. The
    key checks themselves are tested with ``api`` and real keys (tests/serving/api).
    """
    app = create_app(settings)
    app.dependency_overrides[authenticate] = lambda: Principal(0, "admin", "test-admin", "test")
    with TestClient(app) as client:
        yield client
