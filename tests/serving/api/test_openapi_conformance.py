"""The spec and the behaviour agree: schemathesis over every operation of the served API.

A real server (uvicorn on loopback, the small test models) on a seeded world with posts
ingested through the API; schemathesis's CLI runs every phase (examples, coverage,
fuzzing, stateful) with every check on (``--checks all``: no 5xx, status codes, content
types, headers and bodies as documented, schema-valid requests accepted, invalid ones
refused, missing auth refused, ``Allow`` on 405s, …), seeded, with a bounded number of
examples per operation. ``make test`` runs a short run; ``make test-all`` a longer one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm

from quanzi.settings import Settings

settings = sm.settings
SEED = 20261207


def run_schemathesis(
    settings: Settings, seed: Any, report_dir: Path, max_examples: int
) -> tuple[int, str, int]:
    """(exit code, output, operations in the app's OpenAPI) of one seeded run."""
    keys = seed(cw.seed_store)
    with cw.console_server(settings) as (base, app):
        cw.load_posts(base, keys["ingest"])
        operations = sum(
            method in {"get", "post", "put", "patch", "delete"}
            for path in app.openapi()["paths"].values()
            for method in path
        )
        st = Path(sys.executable).with_name("schemathesis")
        command = [
            str(st),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(max_examples),
            "--seed",
            str(SEED),
            "--header",
            f"Authorization: Bearer {keys['admin']}",
            "--no-shrink",
            "--workers",
            "1",
            "--report",
            "junit",
            "--report-dir",
            str(report_dir),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    return result.returncode, result.stdout + result.stderr, operations


def _assert_clean(code: int, output: str, operations: int) -> None:
    tail = output[-6000:]
    assert code == 0, f"schemathesis found failures:\n{tail}"
    assert re.search(rf"Selected: {operations}/{operations}", output), tail
    assert re.search(rf"Tested: {operations}\b", output), tail
    assert "Coverage" in output and "Fuzzing" in output and "Stateful" in output, tail
    assert not re.search(r"\b5\d\d\b.*Server error", output), tail


def test_every_operation_conforms_to_the_spec(
    settings: Settings, seed: Any, tmp_path: Path
) -> None:
    """A short seeded run (a few examples per operation): 0 × 5xx, 0 conformance failures."""
    _assert_clean(*run_schemathesis(settings, seed, tmp_path, max_examples=3))


@pytest.mark.slow
def test_every_operation_conforms_to_the_spec_at_length(
    settings: Settings, seed: Any, tmp_path: Path
) -> None:
    """The same with 50 examples per operation (minutes)."""
    _assert_clean(*run_schemathesis(settings, seed, tmp_path, max_examples=50))
