"""One 1k-post world per test session, built in a temporary data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanzi.datasets.world.build import build_world
from quanzi.settings import Settings

POSTS, SEED = 1000, 11


@pytest.fixture(scope="session")
def world_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("worlds-data"))


@pytest.fixture(scope="session")
def world(world_settings: Settings) -> Path:
    """The shared 1k-post test world (read-only for the tests)."""
    return build_world(world_settings, POSTS, SEED, progress=False)
