"""``quanzi bench ingest``: end-to-end POST /v1/posts throughput on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import bench_app, fail

MODES = {"both": ("batched", "single"), "batched": ("batched",), "single": ("single",)}


@bench_app.command("ingest")
def bench_ingest(
    mode: Annotated[
        str,
        typer.Option(
            help="single: one post a request (as the platform sends them, batched by the "
            "service); batched: --batch posts a request; both: one after the other."
        ),
    ] = "both",
    posts: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Posts to ingest, per mode.")
    ] = 3000,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Keep-alive connections, single mode.")
    ] = 16,
    batch: Annotated[
        int, typer.Option(min=1, max=500, help="Posts per request, batched mode.")
    ] = 100,
    batch_concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Keep-alive connections, batched mode.")
    ] = 2,
    seconds: Annotated[
        float | None,
        typer.Option(min=1, help="Stop sending after this many seconds (per mode)."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=1, help="Open loop: requests per second (default: closed loop)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers.")] = 2,
    circles: Annotated[int, typer.Option(min=1, max=1000, help="Circles posted to.")] = 5,
    authors: Annotated[int, typer.Option(min=1, max=100_000, help="Distinct authors.")] = 500,
    warmup: Annotated[
        int, typer.Option(min=0, help="Unmeasured posts first (model and index warm-up).")
    ] = 300,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Run on this database (e.g. PostgreSQL) instead of the bench's SQLite "
            "file. It must be disposable: the bench drops and recreates its tables."
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
) -> None:
    """Posts/s through POST /v1/posts (store, moderate, score, embed, index, de-duplicate),
    one post a request and/or in caller batches; checks every acknowledged post is stored."""
    import json
    import os
    import platform
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.ingest_bench import IngestBenchOptions, run_bench
    from quanzi.settings import Settings

    if mode not in MODES:
        raise fail(f"--mode must be single, batched or both, not {mode!r}")
    options = IngestBenchOptions(
        modes=MODES[mode],
        posts=posts,
        warmup=warmup,
        batch=batch,
        batch_concurrency=batch_concurrency,
        concurrency=concurrency,
        workers=workers,
        circles=circles,
        authors=authors,
        seconds=seconds,
        rate=rate,
        database_url=database_url,
    )
    settings = Settings()
    console = Console(width=max(Console().width, 140))
    load_before = os.getloadavg()
    try:
        report = run_bench(settings, options, echo=console.print)
    except (FileNotFoundError, KeyError) as exc:
        raise fail(f"cannot read the review corpora ({exc}); set QUANZI_CORPORA_DIR") from exc
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    load_after = os.getloadavg()
    store = "SQLite" if database_url is None else database_url.split(":", 1)[0]
    table = Table(title=f"POST /v1/posts on {store}, {workers} worker(s), {os.cpu_count()} CPUs")
    columns = ("mode", "conn.", "posts", "posts/s", "p50 ms", "p99 ms", "batch sizes")
    for col in (*columns, "errors", "dropped", "429", "503", "CPU ms/post"):
        table.add_column(col, justify="right")
    for name, r in report["results"].items():
        table.add_row(
            name,
            str(r["concurrency"]),
            str(r["posts"]),
            f"{r['posts_per_s']:.1f}",
            f"{r['p50_ms']:.0f}",
            f"{r['p99_ms']:.0f}",
            " ".join(f"{k}×{v}" for k, v in r["batch_sizes"].items())[:40],
            str(r["errors"]),
            str(r["dropped"]),
            str(r["refused_429"]),
            str(r["refused_503"]),
            f"{r.get('server_cpu_ms_per_post', float('nan')):.1f} + "
            f"{r['client_cpu_ms_per_post']:.1f}",
        )
    console.print(table)
    console.print("CPU ms/post: server (all workers) + load generator; batch sizes: posts")
    console.print("in the transaction each acknowledged request was committed with × requests")
    for name, r in report["results"].items():
        console.print(
            f"{name}: statuses {r['statuses']}; near-duplicates {r['near_duplicates']}"
            + (f"; errors, e.g. {r['error_samples']}" if r["error_samples"] else "")
        )
    results = report["results"]
    if "single" in results and "batched" in results and results["batched"]["posts_per_s"]:
        ratio = results["single"]["posts_per_s"] / results["batched"]["posts_per_s"]
        console.print(f"single / batched posts/s: {ratio:.2f}")
    check = report["check"]
    console.print(
        f"acknowledged {check['acknowledged']}: missing from the store "
        f"{check['missing_from_store']}, without a vector {check['missing_vector']}; "
        f"index vectors on the workers reached {check['index_vectors_seen']} "
        f"(the store has {check['store_indexable']} indexable)"
    )
    console.print(
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
        "(other work on this machine competes for the same cores)"
    )
    if json_out:
        ready = report["ready"]
        json_out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
                    "load_before": load_before,
                    "load_after": load_after,
                    "models": ready.get("models"),
                    "degraded": ready.get("degraded"),
                    "results": results,
                    "check": check,
                    "options": {k: v for k, v in options.__dict__.items() if k != "database_url"},
                    "store": store,
                },
                indent=1,
                default=str,
            )
        )
        console.print(f"figures: {json_out}")
