"""A TestClient on an app whose store is a temporary SQLite database, seeded by factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quanzi.serving.api.deps import authenticate
from quanzi.serving.app import create_app
from quanzi.serving.keys import Principal
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema


@pytest.fixture
def seed(settings: Settings, factory_class: type) -> Callable[[Callable[[Any], Any]], Any]:
    """``seed(build)``: migrate the app's database, run ``build(factory)``, commit."""

    def run(build: Callable[[Any], Any]) -> Any:
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
