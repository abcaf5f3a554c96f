"""``quanzi bench soak``: feed, ingest and similar search together, memory and files sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import bench_app, fail
from quanzi.commands.ranking import WorldOpt, _world_name


@bench_app.command("soak")
def bench_soak(
    world: WorldOpt = None,
    duration: Annotated[float, typer.Option(min=5, help="Seconds of load.")] = 300.0,
    feed_rate: Annotated[float, typer.Option(min=0, help="Feed-rank requests/s.")] = 100.0,
    ingest_rate: Annotated[float, typer.Option(min=0, help="Ingest batches/s.")] = 1.0,
    ingest_batch: Annotated[int, typer.Option(min=1, max=500, help="Posts per batch.")] = 10,
    similar_rate: Annotated[float, typer.Option(min=0, help="Similar-search requests/s.")] = 10.0,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers.")] = 2,
    sample: Annotated[float, typer.Option(min=0.5, help="Seconds between samples.")] = 5.0,
    warmup: Annotated[
        float, typer.Option(min=0, help="Seconds before the growth baseline is taken.")
    ] = 20.0,
    rss_bound: Annotated[
        float, typer.Option(min=0, help="Allowed RSS growth, MiB (plus --rss-per-post).")
    ] = 64.0,
    rss_per_post: Annotated[
        float, typer.Option(min=0, help="Allowed RSS growth per ingested post, KiB.")
    ] = 8.0,
    fd_bound: Annotated[int, typer.Option(min=0, help="Allowed growth of open files.")] = 16,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
) -> None:
    """Load and soak test on loopback: exit 1 on any error or growth beyond the bound."""
    import json
    import os
    import platform
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.bench_server import free_port
    from quanzi.evaluation.feed_bench import prepare, running_server
    from quanzi.evaluation.ingest_bench import review_texts
    from quanzi.evaluation.soak_bench import SoakConfig, run_soak
    from quanzi.settings import Settings
    from quanzi.storage.api_keys import create_key
    from quanzi.storage.db import settings_session

    settings = Settings()
    console = Console(width=max(Console().width, 110))
    name = _world_name(world)
    try:
        texts = review_texts(settings, 5000)
        plan = prepare(settings, name, 1, echo=console.print, dir_name=f"soak-{name}")
    except (FileNotFoundError, KeyError) as exc:
        raise fail(str(exc)) from exc
    with settings_session(Settings(data_dir=plan.data_dir, env="development")) as session:
        ingest_key = create_key(session, "ingest", "bench-soak")[1]
    config = SoakConfig(
        duration_s=duration,
        feed_rate=feed_rate,
        ingest_rate=ingest_rate,
        ingest_batch=ingest_batch,
        similar_rate=similar_rate,
        sample_s=sample,
        warmup_s=min(warmup, duration / 2),
        rss_bound_mib=rss_bound,
        rss_per_post_kib=rss_per_post,
        fd_bound=fd_bound,
    )
    port = free_port()
    load_before = os.getloadavg()
    console.print(f"soak data dir {plan.data_dir}; starting {workers} worker(s) …")
    try:
        with running_server(settings, plan, port, workers) as ready:
            console.print(f"models: {ready.get('models')}; mode: {ready.get('mode', '?')}")
            console.print(
                f"{duration:g} s of feed {feed_rate:g}/s + ingest {ingest_rate:g}×"
                f"{ingest_batch}/s + similar {similar_rate:g}/s …"
            )
            report = run_soak(port, ready["_server_pid"], plan, ingest_key, texts, config)
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    load_after = os.getloadavg()
    table = Table(title=f"bench soak, {workers} worker(s), {report['seconds']:g} s")
    for col in ("stream", "requests", "per s", "errors", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    for s in report["streams"]:
        table.add_row(
            s["stream"],
            f"{s['requests']:,}",
            f"{s['per_s']:g}",
            str(s["errors"]),
            f"{s['p50_ms']:g}",
            f"{s['p99_ms']:g}",
            f"{s['max_ms']:g}",
        )
    console.print(table)
    m, bound = report["memory"], report["bound"]
    console.print(
        f"RSS (all processes) {m['rss_start_mib']:g} → {m['rss_end_mib']:g} MiB "
        f"(growth {m['rss_growth_mib']:+g}, bound {bound['rss_growth_mib']:g}; max "
        f"{m['rss_max_mib']:g}); open files {m['fds_start']:g} → {m['fds_end']:g} "
        f"(growth {m['fds_growth']:+g}, bound {bound['fds_growth']}); "
        f"{report['posts_ingested']:,} posts ingested; load {load_before[0]:.1f} → "
        f"{load_after[0]:.1f}"
    )
    for s in report["streams"]:
        for sample_text in s["error_samples"]:
            console.print(f"[red]{s['stream']} error[/red] {sample_text}")
    if json_out is not None:
        report |= {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "workers": workers,
            "load": [round(load_before[0], 2), round(load_after[0], 2)],
            "models": ready.get("models"),
        }
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        console.print(f"figures written to {json_out}")
    if report["errors"] or not report["within_bound"]:
        raise fail(
            f"soak failed: {report['errors']} errors; within bound: {report['within_bound']}"
        )
    console.print("[green]0 errors, growth within the bound[/green]")
