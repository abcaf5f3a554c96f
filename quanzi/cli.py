"""The ``quanzi`` command line: one entry point, grown by the command modules."""

from __future__ import annotations

from quanzi.cli_groups import app
from quanzi.commands import register_all


def main() -> None:
    """Run the CLI (the ``quanzi`` console script)."""
    register_all()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
