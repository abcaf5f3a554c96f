"""Fixtures for routes behind real API keys: ``api`` checks keys, ``keys`` holds one per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import ROLES, create_key


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """The app with its real key checks (``client`` instead lets every request in as admin)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def keys(seed: Callable[[Callable[[Any], Any]], Any]) -> dict[str, dict[str, str]]:
    """Request headers carrying a fresh key of each role, named ``<role>-1``."""

    def build(f: Any) -> dict[str, dict[str, str]]:
        return {
            role: {"Authorization": f"Bearer {create_key(f.session, role, f'{role}-1')[1]}"}
            for role in ROLES
        }

    return seed(build)
