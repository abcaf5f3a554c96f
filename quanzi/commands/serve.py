"""``quanzi serve``: run the HTTP service."""

from __future__ import annotations

import typer

from quanzi.cli_groups import app, fail


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default QUANZI_HOST)."),
    port: int | None = typer.Option(None, help="Port (default QUANZI_PORT)."),
    workers: int | None = typer.Option(None, help="Worker processes (default QUANZI_WORKERS)."),
    access_log: bool = typer.Option(True, help="Log every request (uvicorn's access log)."),
) -> None:
    """Start the service on the configured data directory and database."""
    from quanzi.serving import launcher
    from quanzi.settings import Settings

    settings = Settings()
    settings.ensure_dirs()
    from quanzi.storage.db import upgrade_schema

    upgrade_schema(settings)
    try:
        launcher.run(
            "quanzi.serving.app:create_app",
            host=host or settings.host,
            port=port or settings.port,
            workers=workers or settings.workers,
            log_level=settings.log_level,
            reuse_port=settings.reuse_port,
            access_log=access_log,
            timeout_keep_alive=settings.keep_alive_s,
            # The app is imported by module path from the installed package: the checkout
            # root is never put on sys.path (it would let ./datasets shadow HF `datasets`).
            app_dir=None,
        )
    except OSError as exc:  # e.g. the port is taken: say so, no traceback
        raise fail(
            f"cannot listen on {host or settings.host}:{port or settings.port}: "
            f"{exc.strerror or exc}; choose another --port or stop what uses it"
        ) from exc


@app.command("config")
def show_config(markdown: bool = typer.Option(False, help="Print the README's table.")) -> None:
    """Print the settings in force (or the README's configuration table)."""
    from quanzi.settings import Settings, env_name, settings_table

    if markdown:
        print(settings_table())
        return
    settings = Settings()
    for name in Settings.model_fields:
        print(f"{env_name(name)}={getattr(settings, name)}")
