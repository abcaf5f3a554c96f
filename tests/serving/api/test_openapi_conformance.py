"""Schemathesis over every operation of the running service: the spec and the behaviour agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from quanzi_tests import console_world as cw
from quanzi_tests import serving_models as sm

from quanzi.settings import Settings

settings = sm.settings


def test_schemathesis_finds_no_failure(settings: Settings, seed: Any, tmp_path: Path) -> None:
    keys = seed(cw.seed_store)
    with cw.console_server(settings) as (base, _app):
        cw.load_posts(base, keys["ingest"])
        st = Path(sys.executable).with_name("schemathesis")
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "-n",
                "5",
                "--seed",
                "7",
                "-H",
                f"Authorization: Bearer {keys['admin']}",
                "--no-shrink",
                "--report",
                "json",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        Path("/tmp/qz15/st.out").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout[-5000:]
