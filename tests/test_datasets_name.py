"""The repository's ``datasets/`` folder must never shadow Hugging Face's ``datasets``.

It is installed as ``quanzi.datasets``; it would only become a top-level ``datasets`` if
the repository root landed on ``sys.path`` (``python -c`` run from the root, a
``pythonpath`` pytest option, uvicorn's ``--app-dir .``). These tests check the three
ways Quanzi actually runs: pytest, the ``quanzi`` console script, and ``quanzi serve``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
QUANZI_SCRIPT = Path(sys.executable).parent / "quanzi"


def _inside_repo(origin: str | None) -> bool:
    return origin is not None and Path(origin).resolve().is_relative_to(REPO_ROOT)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_pytest_process_does_not_resolve_datasets_to_the_repo() -> None:
    spec = importlib.util.find_spec("datasets")
    assert spec is None or not _inside_repo(spec.origin), spec.origin
    assert str(REPO_ROOT) not in [str(Path(p).resolve()) for p in sys.path if p]


def test_our_folder_is_importable_as_quanzi_datasets() -> None:
    spec = importlib.util.find_spec("quanzi.datasets")
    assert spec is not None and _inside_repo(spec.origin)


def test_console_script_run_from_the_repo_root_does_not_see_our_folder() -> None:
    assert QUANZI_SCRIPT.is_file(), "the quanzi console script is not installed in this venv"
    result = subprocess.run(
        [str(QUANZI_SCRIPT), "data", "which-datasets"],
        cwd=REPO_ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    origin = result.stdout.strip()
    assert origin, result.stderr
    assert not _inside_repo(None if origin == "not installed" else origin), origin


def test_python_c_from_the_repo_root_would_shadow_it() -> None:
    """The hazard the rules forbid is real: this is why docs never use ``python -c``."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util; print(importlib.util.find_spec('datasets').origin)",
        ],
        cwd=REPO_ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert _inside_repo(result.stdout.strip())


def test_uvicorn_run_as_quanzi_serve_calls_it_leaves_sys_path_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``quanzi serve`` → ``uvicorn.run(..., app_dir=None)``: nothing joins sys.path.

    uvicorn's ``run`` inserts ``app_dir`` into sys.path whenever it is not None (its CLI
    defaults it to "."), so the test runs the real command with only the socket loop and
    the app import stubbed, and checks sys.path before and after. Running the same
    uvicorn code with ``app_dir="."`` shows the check would catch the regression.
    """
    import uvicorn
    from typer.testing import CliRunner

    from quanzi.cli_groups import app
    from quanzi.commands import register_all

    calls: list[dict[str, object]] = []
    real_run = uvicorn.run

    def recording_run(*args: object, **kwargs: object) -> None:
        calls.append(kwargs)
        real_run(*args, **kwargs)  # type: ignore[arg-type]

    def pretend_to_serve(self: uvicorn.Server, sockets: object = None) -> None:
        self.started = True  # uvicorn exits with code 3 when a server never started

    monkeypatch.setattr(uvicorn.Server, "run", pretend_to_serve)
    monkeypatch.setattr(uvicorn.Config, "load_app", lambda self: None)
    monkeypatch.setattr(uvicorn, "run", recording_run)
    monkeypatch.setattr("quanzi.storage.db.upgrade_schema", lambda settings: None)
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))  # restored afterwards either way
    before = list(sys.path)

    register_all()
    result = CliRunner().invoke(app, ["serve", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert calls and calls[0]["app_dir"] is None
    assert sys.path == before
    assert importlib.util.find_spec("datasets") is None or not _inside_repo(
        importlib.util.find_spec("datasets").origin
    )  # type: ignore[union-attr]

    real_run("quanzi.serving.app:create_app", factory=True, workers=1, app_dir=".")
    assert sys.path[0] == "."  # the regression this test exists to catch
