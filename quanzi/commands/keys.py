"""``quanzi keys …``: API keys with roles (feed-service, ingest, editor, admin, and
brand-manager for one brand circle's own rules).

``create`` prints the key alone on stdout, exactly once (only its hash is stored), so
``KEY=$(quanzi keys create --role editor)`` works; everything else goes to stderr.
"""

from __future__ import annotations

from enum import StrEnum

import typer

from quanzi.cli_groups import app, fail

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


class RoleChoice(StrEnum):
    feed_service = "feed-service"
    ingest = "ingest"
    editor = "editor"
    admin = "admin"
    brand_manager = "brand-manager"


def _sessions():  # type: ignore[no-untyped-def]
    """A session factory on the configured database, or a CLI error naming the fix."""
    from sqlalchemy import inspect

    from quanzi.settings import Settings
    from quanzi.storage.db import engine_from_settings, session_factory

    settings = Settings()
    settings.ensure_dirs()
    engine = engine_from_settings(settings)
    if not inspect(engine).has_table("api_keys"):
        engine.dispose()
        raise fail("the database has no api_keys table: run `quanzi db upgrade` first")
    return engine, session_factory(engine)


@keys_app.command("create")
def create(
    role: RoleChoice = typer.Option(..., help="What the key may call."),
    name: str = typer.Option("", help="Who holds it (recorded as the editor on decisions)."),
    circle: str | None = typer.Option(
        None, help="brand-manager only: the brand circle whose own rules the key manages."
    ),
) -> None:
    """Create a key and print it once; only its salted hash is stored."""
    from quanzi.storage.api_keys import create_key
    from quanzi.storage.db import session_scope
    from quanzi.storage.orm import Circle

    if (role is RoleChoice.brand_manager) != (circle is not None):
        raise fail("--circle goes with --role brand-manager (and a brand-manager key needs it)")
    engine, sessions = _sessions()
    try:
        with session_scope(sessions) as session:
            if circle is not None and session.get(Circle, circle) is None:
                raise fail(f"no circle {circle!r}: `quanzi world list` or GET /v1/circles")
            row, key = create_key(session, role.value, name, circle_id=circle)
            ident, prefix = row.id, row.prefix
    finally:
        engine.dispose()
    typer.echo(
        f"created key {ident} (prefix {prefix}, role {role.value}); store it now, "
        "it is not shown again:",
        err=True,
    )
    typer.echo(key)


@keys_app.command("list")
def list_() -> None:
    """Every key: id, prefix, role, name, when created and revoked (never the key itself)."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.storage.api_keys import list_keys

    engine, sessions = _sessions()
    try:
        with sessions() as session:
            rows = list_keys(session)
    finally:
        engine.dispose()
    table = Table("id", "prefix", "role", "name", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r.id),
            r.prefix,
            r.role,
            r.name,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(
    ident: str = typer.Argument(..., help="The key's id or prefix (`quanzi keys list`)."),
) -> None:
    """Revoke a key; running services refuse it within a few seconds."""
    from quanzi.storage.api_keys import CACHE_SECONDS, UnknownKey, revoke_key
    from quanzi.storage.db import session_scope

    engine, sessions = _sessions()
    try:
        with session_scope(sessions) as session:
            row = revoke_key(session, ident)
            ident, prefix = str(row.id), row.prefix
    except UnknownKey as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    typer.echo(
        f"revoked key {ident} (prefix {prefix}); services refuse it within {CACHE_SECONDS:g} s"
    )
