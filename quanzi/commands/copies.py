"""``quanzi eval copies``: copy-paste posts (搬运) caught at ingest, on a world's hidden truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import fail
from quanzi.commands.ranking import WorldOpt, _world_name, eval_app


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.1%})" if d else "–"


@eval_app.command("copies")
def eval_copies(
    world: WorldOpt = None,
    json_out: Annotated[Path | None, typer.Option(help="Also write the report here.")] = None,
) -> None:
    """How many of a world's copy-paste posts ingest caught (review or reject), flagged as
    near-duplicates of their source, left live — read against the world's hidden truth, on
    the store the world was loaded and ingested into (`quanzi bootstrap` for the demo)."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.datasets.world.build import world_dir
    from quanzi.datasets.world.tables import read_world
    from quanzi.evaluation.copies_eval import evaluate_copies, read_truth
    from quanzi.settings import Settings
    from quanzi.storage.db import engine_from_settings

    settings = Settings()
    name = _world_name(world)
    folder = world_dir(settings, name)
    if not (folder / "hidden" / "posts_truth.parquet").is_file():
        raise fail(f"world {name!r} has no hidden truth in {folder}: `quanzi world build` it")
    posts = read_world(settings, name).tables["posts"][["id", "circle_id"]]
    engine = engine_from_settings(settings)
    try:
        report = evaluate_copies(engine, read_truth(folder), posts)
    except ValueError as exc:
        raise fail(f"{exc} (`quanzi world load {name}` then `quanzi posts backfill`)") from exc
    finally:
        engine.dispose()
    table = Table(title=f"Copy-paste posts of {name} (hidden truth) as ingest decided them")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("copies in the store", str(report.copies))
    table.add_row("… of them cross-circle", str(report.cross_circle))
    table.add_row("caught (review or reject)", _rate(report.caught, report.copies))
    table.add_row(
        "cross-circle copies caught", _rate(report.caught_cross_circle, report.cross_circle)
    )
    table.add_row("flagged as near-duplicates", _rate(report.flagged, report.copies))
    table.add_row("… naming the true source", _rate(report.flagged_true_source, report.flagged))
    table.add_row("live (pass)", str(report.live))
    table.add_row("live and unflagged (could reach a banner)", str(report.live_unflagged))
    table.add_row("flags on posts that are not copies", _rate(report.false_flags, report.flags))
    table.add_row("genuine reviews flagged", _rate(report.genuine_flagged, report.genuine))
    table.add_row("statuses of the copies", json.dumps(report.statuses))
    table.add_row("genuine reviews in review", _rate(report.genuine_review, report.genuine))
    table.add_row("genuine reviews rejected", _rate(report.genuine_reject, report.genuine))
    for reason, n in report.genuine_reasons.items():
        table.add_row(f"… held back for {reason}", _rate(n, report.genuine))
    Console().print(table)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=1))
