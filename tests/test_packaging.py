"""The distribution installs every package under the one `quanzi` namespace."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared() -> tuple[list[str], dict[str, str]]:
    tool = PYPROJECT["tool"]["setuptools"]
    return tool["packages"], tool["package-dir"]


def test_every_package_folder_is_declared() -> None:
    packages, package_dir = _declared()
    found = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found - set(packages) == set(), "add these to [tool.setuptools] packages"


def test_nothing_generic_is_installed_at_top_level() -> None:
    packages, package_dir = _declared()
    assert all(p == "quanzi" or p.startswith("quanzi.") for p in packages)
    assert all(k == "quanzi" or k.startswith("quanzi.") for k in package_dir)


def test_cli_entry_point_runs() -> None:
    exe = Path(sys.executable).with_name("quanzi")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for group in ("serve", "world", "db", "train", "bench"):
        assert group in out.stdout
