"""Fixtures for the moderation data builders: tiny real-layout host frames."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest


def load_moderation_corpora() -> ModuleType:
    """``tests/utils/moderation_corpora.py`` (importlib mode keeps tests/ off sys.path)."""
    name = "quanzi_tests_utils_moderation_corpora"
    if name not in sys.modules:
        path = Path(__file__).parents[2] / "utils" / "moderation_corpora.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def hosts() -> pd.DataFrame:
    """700 distinct review hosts, split 8:1:1 by row."""
    return load_moderation_corpora().review_frame()
