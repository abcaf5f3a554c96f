"""``quanzi db …``: schema migrations."""

from __future__ import annotations

from quanzi.cli_groups import db_app


@db_app.command("upgrade")
def upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations to the configured database (safe to re-run)."""
    from quanzi.settings import Settings
    from quanzi.storage.db import upgrade_url

    settings = Settings()
    settings.ensure_dirs()
    upgrade_url(settings.resolved_database_url, revision)
    print(f"database at revision {revision}: {settings.resolved_database_url}")
