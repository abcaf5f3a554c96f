"""Run one benchmark command on two git revisions back to back (``--compare-rev``).

A latency figure measured today on one commit and last week on another mixes the change
with the machine's mood; the same command, on both revisions, minutes apart and on the
same data, does not. The other revision is checked out with ``git worktree add --detach``
into a temporary folder and imported through a *package view*: a folder whose
``quanzi/`` holds that checkout's ``quanzi/`` files and links its top-level packages
(``models`` → ``quanzi/models``, …) the way ``pyproject.toml``'s ``package-dir`` maps
them. Put first on ``PYTHONPATH``, the view wins over this checkout's editable install
(its finder comes after the path finder), in the bench command and in every process it
starts (server workers, load generator). Both runs share this venv and the data dir, so
the models, the stored posts and the bench's prepared folder are the same; only the code
differs. A revision whose dependencies or schema differ from this checkout's cannot be
compared this way (the command fails and says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# pyproject.toml's [tool.setuptools.package-dir]: quanzi.<name> lives in the top-level <name>.
TOP_LEVEL_PACKAGES = ("models", "training", "serving", "datasets", "evaluation", "storage")


def repo_root() -> Path:
    """The checkout this code runs from (this file is ``<root>/evaluation/…``)."""
    return Path(__file__).resolve().parents[1]


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), *args], check=False, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip()


def describe(root: Path, rev: str = "HEAD") -> str:
    """``<short sha> <subject>`` of ``rev``."""
    return _git(root, "log", "-1", "--format=%h %s", rev)


def is_dirty(root: Path) -> bool:
    """Whether tracked files differ from HEAD (then "this checkout" is not HEAD's code)."""
    return bool(_git(root, "status", "--porcelain", "--untracked-files=no"))


@contextlib.contextmanager
def revision_view(rev: str, root: Path | None = None) -> Iterator[Path]:
    """A temporary package view of ``rev`` (module docstring): the folder to put first on
    ``PYTHONPATH``. The worktree is removed on exit."""
    root = root or repo_root()
    sha = _git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="quanzi-rev-"))
    checkout, view = tmp / "checkout", tmp / "view"
    _git(root, "worktree", "add", "--detach", "--quiet", str(checkout), sha)
    try:
        pkg = view / "quanzi"
        pkg.mkdir(parents=True)
        for entry in (checkout / "quanzi").iterdir():
            (pkg / entry.name).symlink_to(entry)
        for name in TOP_LEVEL_PACKAGES:
            if (checkout / name / "__init__.py").is_file():
                (pkg / name).symlink_to(checkout / name, target_is_directory=True)
        yield view
    finally:
        _git(root, "worktree", "remove", "--force", str(checkout))
        shutil.rmtree(tmp, ignore_errors=True)


def run_quanzi(args: Sequence[str], pythonpath: Path | None = None) -> None:
    """``quanzi <args>`` in a child process of this venv, importing the package from
    ``pythonpath`` when given (a revision view), else from this checkout."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *filter(None, [env.get("PYTHONPATH")])]
        )
    code = (
        "import sys, quanzi.cli; sys.argv[0] = 'quanzi'; "
        "print('code from', quanzi.cli.__file__, file=sys.stderr); quanzi.cli.main()"
    )
    # -P: no current folder on sys.path (run from the repo root, it would import this
    # checkout's ``quanzi/`` ahead of the view)
    done = subprocess.run([sys.executable, "-P", "-c", code, *args], env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`quanzi {' '.join(args)}` exited with {done.returncode}")


def p99_rows(result_file: Path) -> dict[str, dict[str, Any]]:
    """Mode → that run's figures, from a ``--json-out`` file of ``quanzi bench feed``."""
    data = json.loads(result_file.read_text())
    return {r["mode"]: r for r in data["results"]} | {
        "_meta": {"load_before": data.get("load_before"), "load_after": data.get("load_after")}
    }
