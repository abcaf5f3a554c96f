"""``quanzi db …``: schema migrations and a connection check."""

from __future__ import annotations

from quanzi.cli_groups import db_app, fail


def _safe_url(url: str) -> str:
    """The URL with any password masked, fit to print."""
    from quanzi.storage.db import normalize_url

    try:
        return normalize_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<unparseable URL>"


def _reason(exc: Exception) -> str:
    """The first line of the driver's message (not SQLAlchemy's whole report)."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


@db_app.command("upgrade")
def upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations to the configured database (safe to re-run)."""
    from sqlalchemy.exc import SQLAlchemyError

    from quanzi.settings import Settings
    from quanzi.storage.db import upgrade_url

    settings = Settings()
    settings.ensure_dirs()
    url = settings.resolved_database_url
    try:
        upgrade_url(url, revision)
    except (SQLAlchemyError, ValueError) as exc:
        raise fail(
            f"cannot migrate {_safe_url(url)}: {_reason(exc)}; check QUANZI_DATABASE_URL"
        ) from exc
    print(f"database at revision {revision}: {_safe_url(url)}")


@db_app.command("check")
def check() -> None:
    """Print the database's dialect and schema revision; exit 1 unless it is at head."""
    from sqlalchemy.exc import SQLAlchemyError

    from quanzi.settings import Settings
    from quanzi.storage.db import current_revision, head_revision, make_engine

    settings = Settings()
    url = settings.resolved_database_url
    try:
        engine = make_engine(url)
        try:
            current = current_revision(engine)
            dialect = f"{engine.dialect.name}+{engine.dialect.driver}"
        finally:
            engine.dispose()
    except (SQLAlchemyError, ValueError) as exc:
        raise fail(
            f"cannot reach {_safe_url(url)}: {_reason(exc)}; check QUANZI_DATABASE_URL"
        ) from exc
    head = head_revision()
    print(f"url:      {_safe_url(url)}")
    print(f"dialect:  {dialect}")
    print(f"revision: {current or 'none (empty database)'}")
    print(f"head:     {head}")
    if current != head:
        raise fail("schema is not at head: run `quanzi db upgrade`", code=1)
    print("status:   up to date")
