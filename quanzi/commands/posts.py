"""``quanzi posts backfill``: run stored posts that are still ``pending`` through ingest."""

from __future__ import annotations

from typing import Annotated

import typer

from quanzi.cli_groups import app, fail

posts_app = typer.Typer(
    help="Stored posts: moderate, score, embed and index them.", no_args_is_help=True
)
app.add_typer(posts_app, name="posts")


@posts_app.command("backfill")
def backfill(
    batch: Annotated[int, typer.Option(min=1, max=5000, help="Posts per transaction.")] = 256,
) -> None:
    """Moderate, score, embed and index every stored post still pending (e.g. a loaded world).

    Uses the models the service would serve (champions, encoder); what is missing is
    reported and degrades the same way as in the service.
    """
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from quanzi.models.index import save_index
    from quanzi.serving.post_ingest.backfill import backfill_pending
    from quanzi.serving.worker_models import ModelRegistry
    from quanzi.settings import Settings
    from quanzi.storage.db import engine_from_settings, session_factory
    from quanzi.storage.orm import Post

    settings = Settings()
    settings.ensure_dirs()
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            pending = conn.execute(
                select(func.count()).select_from(Post).where(Post.status == "pending")
            ).scalar_one()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"cannot read the store: {reason}; run `quanzi db upgrade` first") from exc
    if not pending:
        typer.echo("no pending posts")
        engine.dispose()
        return
    registry = ModelRegistry(settings, engine)
    try:
        models = registry.current()
        typer.echo(f"models: {models.model_versions()}")
        for entry in models.degraded_list():
            typer.echo(f"degraded: {entry['model']}: {entry['reason']}", err=True)
        with tqdm(total=pending, desc="backfill", unit="post", dynamic_ncols=True) as bar:
            done = backfill_pending(session_factory(engine), models, batch, bar.update)
        if models.index_sync is not None:  # save the index so workers start from it
            models.index_sync.stop()
            models.index_sync.sync()
            save_index(models.index, settings.index_dir)
        with engine.connect() as conn:
            counts = dict(
                conn.execute(select(Post.status, func.count()).group_by(Post.status)).all()
            )
    finally:
        registry.close()
        engine.dispose()
    typer.echo(f"processed {done} posts; statuses now {counts}")
