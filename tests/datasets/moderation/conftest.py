"""Fixtures for the moderation data builders: tiny real-layout host frames."""

from __future__ import annotations

import importlib
from types import ModuleType

import pandas as pd
import pytest


def load_moderation_corpora() -> ModuleType:
    """``tests/utils/moderation_corpora.py`` (importlib mode keeps tests/ off sys.path)."""
    return importlib.import_module("quanzi_tests.moderation_corpora")


@pytest.fixture
def hosts() -> pd.DataFrame:
    """700 distinct review hosts, split 8:1:1 by row."""
    return load_moderation_corpora().review_frame()
