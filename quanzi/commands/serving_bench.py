"""``quanzi bench ingest``: end-to-end POST /v1/posts throughput on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import bench_app, fail


@bench_app.command("ingest")
def bench_ingest(
    posts: Annotated[int, typer.Option(min=1, max=1_000_000, help="Posts to ingest.")] = 5000,
    batch: Annotated[int, typer.Option(min=1, max=500, help="Posts per request.")] = 100,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Concurrent keep-alive connections.")
    ] = 2,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers.")] = 2,
    circles: Annotated[int, typer.Option(min=1, max=1000, help="Circles posted to.")] = 5,
    authors: Annotated[int, typer.Option(min=1, max=100_000, help="Distinct authors.")] = 500,
    warmup: Annotated[
        int, typer.Option(min=0, help="Unmeasured posts first (model and index warm-up).")
    ] = 300,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
) -> None:
    """Posts/s through POST /v1/posts (store, moderate, score, embed, index, de-duplicate)."""
    import json
    import os
    import platform
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.bench_server import bench_env, free_port
    from quanzi.evaluation.ingest_bench import (
        make_batches,
        prepare,
        review_texts,
        run_client,
        running_server,
    )
    from quanzi.settings import Settings

    settings = Settings()
    console = Console()
    try:
        texts = review_texts(settings, posts + warmup)
    except (FileNotFoundError, KeyError) as exc:
        raise fail(f"cannot read the review corpora ({exc}); set QUANZI_CORPORA_DIR") from exc
    plan = prepare(settings, circles, authors)
    bodies = make_batches(plan, texts, batch)
    warm, measured = bodies[: -(-warmup // batch)] if warmup else [], bodies[-(-warmup // batch) :]
    env = bench_env(settings, plan.data_dir)
    port = free_port()
    console.print(f"bench data dir {plan.data_dir}; starting {workers} worker(s) …")
    load_before = os.getloadavg()
    try:
        with running_server(env, plan.data_dir, port, workers) as ready:
            console.print(
                f"models: {ready.get('models')}; degraded: "
                f"{[d['model'] for d in ready.get('degraded', [])] or 'none'}"
            )
            if warm:
                run_client(plan.data_dir, env, port, plan.key, warm, concurrency, "warmup")
            console.print(
                f"ingesting {sum(len(b['posts']) for b in measured)} posts in "
                f"batches of {batch}, concurrency {concurrency} …"
            )
            result = run_client(
                plan.data_dir, env, port, plan.key, measured, concurrency, "measured"
            )
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    load_after = os.getloadavg()
    table = Table(title=f"POST /v1/posts, {workers} worker(s), {os.cpu_count()} CPUs")
    for col in ("posts", "posts/s", "batch", "conc.", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(col, justify="right")
    table.add_row(
        str(result["posts"]),
        f"{result['posts_per_s']:.1f}",
        str(batch),
        str(concurrency),
        f"{result['p50_ms']:.0f}",
        f"{result['p95_ms']:.0f}",
        f"{result['p99_ms']:.0f}",
        str(result["errors"]),
    )
    console.print(table)
    console.print(f"statuses {result['statuses']}; near-duplicates {result['near_duplicates']}")
    if result["error_samples"]:
        console.print(f"errors, e.g.: {result['error_samples']}")
    console.print(
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
        "(other work on this machine competes for the same cores)"
    )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
                    "load_before": load_before,
                    "load_after": load_after,
                    "workers": workers,
                    "models": ready.get("models"),
                    "degraded": ready.get("degraded"),
                    "result": result,
                    "options": {
                        "posts": posts,
                        "batch": batch,
                        "concurrency": concurrency,
                        "circles": circles,
                        "authors": authors,
                        "warmup": warmup,
                    },
                },
                indent=1,
                default=str,
            )
        )
        console.print(f"figures: {json_out}")
