"""CLI command modules; each attaches its commands to the groups in ``quanzi.cli_groups``."""

from __future__ import annotations

import importlib

# Modules are imported for their side effect of registering commands. Heavy libraries
# (torch, faiss, mlflow) are imported inside the command functions, so `quanzi --help`
# stays fast.
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
    "ranker",
    "serving_bench",
    "posts",
)


def register_all() -> None:
    """Import every command module once (idempotent: Python caches modules)."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"quanzi.commands.{name}")
