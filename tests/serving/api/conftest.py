"""Fixtures for routes behind real API keys: ``api`` checks keys, ``keys`` holds one per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from quanzi.serving.app import create_app
from quanzi.settings import Settings
from quanzi.storage.api_keys import ROLES, create_key

BRAND_CIRCLE = "c_brand_key"


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """The app with its real key checks (``client`` instead lets every request in as admin)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def keys(seed: Callable[[Callable[[Any], Any]], Any]) -> dict[str, dict[str, str]]:
    """Request headers carrying a fresh key of each role, named ``<role>-1``."""

    def build(f: Any) -> dict[str, dict[str, str]]:
        # The brand-manager key manages its own circle, BRAND_CIRCLE.
        f.circle(id=BRAND_CIRCLE)

        def key(role: str) -> str:
            circle = BRAND_CIRCLE if role == "brand-manager" else None
            return create_key(f.session, role, f"{role}-1", circle_id=circle)[1]

        return {role: {"Authorization": f"Bearer {key(role)}"} for role in ROLES}

    return seed(build)
