"""``--compare-rev``: another revision's code, importable as ``quanzi`` from a package view."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from quanzi.evaluation.bench_revisions import _git, repo_root, revision_view


def test_a_revision_view_imports_that_revisions_code_and_is_removed_after() -> None:
    root = repo_root()
    try:
        _git(root, "rev-parse", "HEAD")
    except RuntimeError:
        pytest.skip("not a git checkout")
    with revision_view("HEAD", root) as view:
        checkout = (view / "quanzi" / "cli.py").resolve().parents[1]
        assert checkout != root and (view / "quanzi" / "models" / "__init__.py").is_file()
        env = {**os.environ, "PYTHONPATH": str(view)}
        code = "import quanzi.models.ranking.params as p; print(p.__file__)"
        done = subprocess.run(
            [sys.executable, "-P", "-c", code], env=env, cwd=root, capture_output=True, text=True
        )
        assert done.stdout.strip().startswith(str(view))  # not this checkout's file
    assert not checkout.exists()
    assert str(checkout) not in _git(root, "worktree", "list")
