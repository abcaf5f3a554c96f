"""``quanzi world …``: build, list, load and describe simulated circle worlds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quanzi.cli_groups import fail, world_app


@world_app.command("build")
def build(
    posts: Annotated[int, typer.Option(help="Number of posts (>= 100; 1000 is the test size).")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed and size, same world.")] = 0,
    name: Annotated[
        str | None,
        typer.Option(
            help="Folder name (default p{posts}-s{seed}, with -x{percent} when --explore > 0)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild if the world exists.")] = False,
    explore: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Exploration bucket: share of feed requests shown in a uniformly random order "
            "(logged in requests.parquet) for unbiased offline ranking evaluation; 0 = "
            "none, every request newest first.",
        ),
    ] = 0.0,
    holdout_per_phase: Annotated[
        int,
        typer.Option(
            min=0,
            help="Hold out the last N days of every campaign phase the simulated days touch "
            "(per-phase offline ranking) instead of the last 3 days; 0 = the last 3 days.",
        ),
    ] = 0,
    days: Annotated[
        int | None,
        typer.Option(
            min=7,
            max=120,
            help="Simulated days, ending on the default last day (2026-11-25); e.g. 47 starts "
            "on 10-10, so every phase from warm-up to after-sales is simulated. Default 30.",
        ),
    ] = None,
) -> None:
    """Generate a world under $QUANZI_DATA_DIR/worlds/<name> (tables, hidden truth, eval)."""
    from dataclasses import replace
    from datetime import timedelta

    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig
    from quanzi.settings import Settings

    settings = Settings()
    try:
        config = WorldConfig(explore_fraction=explore, holdout_per_phase=holdout_per_phase)
        if days is not None:
            config = replace(config, sim_start=config.sim_end - timedelta(days=days), sim_days=days)
        if name is None and (holdout_per_phase or days is not None):
            from quanzi.datasets.world.build import default_name

            name = f"{default_name(posts, seed, explore)}-d{config.sim_days}-hp{holdout_per_phase}"
        path = build_world(settings, posts, seed, name, config=config, overwrite=force)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    bad = [k for k, v in manifest["bounds"].items() if not v["ok"]]
    typer.echo(
        f"built {path} in {manifest['build_seconds']} s "
        f"({manifest['tables']['interactions']['rows']} training interactions, "
        f"held out: {', '.join(manifest['holdout_days'])})"
    )
    beh = manifest["stats"]["interactions"]
    if "explore_requests" in beh:
        typer.echo(
            f"exploration bucket {explore:g}: {beh['explore_requests']} of "
            f"{beh['requests']} requests in random order "
            f"({beh['explore_requests_holdout']} on the held-out days)"
        )
    if bad:
        typer.secho(
            f"warning: statistics outside their stated bounds: {', '.join(bad)} "
            f"(see `quanzi world stats {manifest['name']}`)",
            fg=typer.colors.YELLOW,
        )


@world_app.command("list")
def list_() -> None:
    """List the built worlds."""
    from quanzi.datasets.world.load import list_worlds, read_manifest
    from quanzi.settings import Settings

    settings = Settings()
    names = list_worlds(settings)
    if not names:
        typer.echo(f"no worlds in {settings.worlds_dir}; run `quanzi world build --posts N`")
        return
    for n in names:
        m = read_manifest(settings, n)
        typer.echo(f"{n}\tposts={m['posts']}\tseed={m['seed']}\tbuilt={m['built_at']}")


def _resolve(settings: Any, name: str | None) -> str:
    from quanzi.datasets.world.build import default_name
    from quanzi.datasets.world.load import list_worlds

    if name:
        return name
    have = list_worlds(settings)
    demo = default_name(settings.demo_posts, settings.demo_seed)
    if demo in have:
        return demo
    if len(have) == 1:
        return have[0]
    if not have:
        raise fail(f"no worlds in {settings.worlds_dir}; run `quanzi world build --posts N`")
    raise fail(f"several worlds, name one of: {', '.join(have)}")


@world_app.command("load")
def load(
    name: Annotated[
        str | None, typer.Argument(help="World to load (default: the demo world, or the only one).")
    ] = None,
) -> None:
    """Insert a world's public tables into the configured database (safe to repeat)."""
    from sqlalchemy.exc import SQLAlchemyError

    from quanzi.datasets.world.load import WorldConflictError, WorldNotFoundError, load_world
    from quanzi.settings import Settings

    settings = Settings()
    world = _resolve(settings, name)
    try:
        inserted = load_world(settings, world)
    except (WorldNotFoundError, WorldConflictError, ValueError) as exc:
        raise fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"cannot load into the database: {reason}; check QUANZI_DATABASE_URL") from exc
    if not any(inserted.values()):
        typer.echo(f"world {world} is already loaded; nothing to do")
    else:
        typer.echo(f"loaded {world}: " + ", ".join(f"{k}={v}" for k, v in inserted.items()))


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, f"{value:.4g}" if isinstance(value, float) else str(value)))


@world_app.command("stats")
def stats(
    name: Annotated[str, typer.Argument(help="World name (see `quanzi world list`).")],
) -> None:
    """Show a world's sizes, statistics and the bounds they are checked against."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.datasets.world.load import WorldNotFoundError, read_manifest
    from quanzi.settings import Settings

    try:
        m = read_manifest(Settings(), name)
    except (WorldNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    console = Console()
    head = Table(title=f"world {name}  (seed {m['seed']}, built in {m['build_seconds']} s)")
    head.add_column("table")
    head.add_column("rows", justify="right")
    for t, info in m["tables"].items():
        head.add_row(t, f"{info['rows']:,}")
    head.add_row("eval/interactions_holdout", f"{m['eval']['rows']:,}")
    if "requests" in m:  # request log of a world with an exploration bucket
        head.add_row(
            f"requests (explore {m['requests']['explore_fraction']:g})",
            f"{m['requests']['rows']:,}",
        )
        head.add_row("eval/requests_holdout", f"{m['requests']['rows_holdout']:,}")
    console.print(head)
    console.print(
        f"simulated {m['sim_start']} → {m['sim_end']}; cutoff {m['cutoff']}; "
        f"held-out days {', '.join(m['holdout_days'])}"
    )
    rows: list[tuple[str, str]] = []
    _flatten("", m["stats"], rows)
    table = Table(title="statistics")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    bounds = Table(title="stated bounds")
    for col in ("check", "value", "bounds", "ok"):
        bounds.add_column(col)
    for k, v in m["bounds"].items():
        lo, hi = v["bounds"]
        bounds.add_row(
            k,
            f"{v['value']:.4g}",
            f"[{lo}, {hi if hi is not None else '∞'}]",
            "[green]yes[/]" if v["ok"] else "[red]NO[/]",
        )
    console.print(bounds)
