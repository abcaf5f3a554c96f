"""CLI command modules; each attaches its commands to the groups in ``quanzi.cli_groups``."""

from __future__ import annotations

import importlib

# Modules are imported for their side effect of registering commands. Every import of
# the package's own modules and of heavy libraries (torch, faiss, mlflow) sits inside the
# command functions on purpose, so `quanzi --help` stays fast: the CLI is the top floor
# (docs/architecture.md), the only place where function-local imports are the rule
# (tests/test_import_floors.py allows them here and nowhere else without a reason).
COMMAND_MODULES = (
    "serve",
    "bootstrap",
    "db",
    "world",
    "data",
    "gold",
    "keys",
    "index",
    "encoder",
    "moderation",
    "report",
    "models",
    "ranking",
    "adversarial",
    "copies",
    "ranker",
    "serving_bench",
    "soak_bench",
    "posts",
    "rescore",
    "backbone",
    "evaluate",
    "qa",
)


def register_all() -> None:
    """Import every command module once (idempotent: Python caches modules)."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"quanzi.commands.{name}")
