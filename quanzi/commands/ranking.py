"""``quanzi eval ranking`` (offline NDCG on a world's held-out days) and ``quanzi bench feed``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quanzi.cli_groups import app, bench_app, fail, stage_progress

eval_app = typer.Typer(help="Offline evaluations (figures for the README).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

WorldOpt = Annotated[
    str | None,
    typer.Option(
        "--world", "-w", help="World name (default: the demo world p<QUANZI_DEMO_POSTS>-s<SEED>)."
    ),
]


def _world_name(world: str | None) -> str:
    from quanzi.datasets.world.build import default_name
    from quanzi.settings import Settings

    settings = Settings()
    return world or default_name(settings.demo_posts, settings.demo_seed)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def _gains(by_segment: dict[str, tuple[float, float, float]]) -> str:
    return "; ".join(
        f"{seg} {g:+.4f} [{lo:+.4f}, {hi:+.4f}]" for seg, (g, lo, hi) in by_segment.items()
    )


@eval_app.command("ranking")
def eval_ranking(
    world: WorldOpt = None,
    tune_trials: Annotated[
        int, typer.Option(min=0, help="Random-search trials on the dev days (0: no tuning).")
    ] = 30,
    dev_days: Annotated[
        int, typer.Option(min=1, max=10, help="Days before the cutoff used for tuning.")
    ] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the search and the fallback SVD.")] = 0,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write the JSON report (default: $QUANZI_DATA_DIR/eval/…)."),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            help="Print the headline table as Markdown (docs/ranking.md) from this saved JSON "
            "report instead of evaluating again.",
        ),
    ] = None,
) -> None:
    """NDCG@10 of the ranking pipeline vs recency and popularity on a world's held-out days."""
    if markdown is not None:
        import json

        from quanzi.evaluation.ranking_eval import markdown_table

        try:
            typer.echo(markdown_table(json.loads(markdown.read_text())))
        except (OSError, ValueError, KeyError) as exc:
            raise fail(f"{markdown}: not a `quanzi eval ranking` JSON report ({exc})") from exc
        return
    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.ranking_eval import EvalConfig, run_eval, write_report
    from quanzi.settings import Settings

    settings = Settings()
    name = _world_name(world)
    console = Console(width=max(Console().width, 110))  # 7 columns with full method names
    with stage_progress(console, additive=frozenset({"score posts"})) as progress:
        try:
            report = run_eval(
                settings,
                EvalConfig(world=name, dev_days=dev_days, tune_trials=tune_trials, seed=seed),
                progress=progress,
            )
        except (FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from exc
    tables = [
        (
            report.test,
            "NDCG@10, eligible set (every method ranks the posts that pass the policy filters)",
        ),
        (
            report.test_debiased,
            "position-debiased NDCG@10, eligible set (gains ÷ "
            "examination propensity of the logged slot)",
        ),
        (
            report.test_unfiltered,
            "NDCG@10, unfiltered (every shown post; pipelines rank filtered posts last)",
        ),
    ]
    if report.test_explore:  # the unbiased headline first
        tables.insert(
            0,
            (
                report.test_explore,
                "HEADLINE: NDCG@10, eligible set, exploration "
                "requests only (shown in random order: no "
                "position-order bias)",
            ),
        )
        tables[1] = (report.test, tables[1][1] + ", all requests (position-biased towards recency)")
    for summary, title in tables:
        methods = [
            m
            for m in ("pipeline", "pipeline-tuned", "learned", "recency", "popularity")
            if m in summary["all"]
        ]
        table = Table(
            title=f"{title} on held-out days {', '.join(report.holdout_days)} "
            f"(world {report.world})"
        )
        table.add_column("segment")
        table.add_column("requests", justify="right")
        for m in methods:
            table.add_column(m, justify="right")
        for seg, row in summary.items():
            if row["requests"]:
                table.add_row(seg, str(row["requests"]), *(_fmt(row[m]) for m in methods))
        console.print(table)
        if summary is report.test_explore:
            for gain_name, by_segment in report.gains_explore.items():
                console.print(
                    f"  {gain_name} (exploration requests, 95 % paired bootstrap): "
                    + _gains(by_segment)
                )
    for gain_name, by_segment in report.gains.items():
        console.print(
            f"  {gain_name} (eligible set, all requests, 95 % paired bootstrap): "
            + _gains(by_segment)
        )
    console.print(
        f"  policy filters removed {report.filtered_share:.1%} of the held-out shown "
        "posts (the unfiltered table ranks them last for the pipelines)"
    )
    for what, source in report.sources.items():
        console.print(f"  {what}: {source}")
    console.print("  hidden truth (true quality, trust, interests): not used")
    if report.tuned_params:
        console.print(
            f"  tuned on dev days {', '.join(report.dev_days)}: "
            + ", ".join(f"{k}={v:.3g}" for k, v in report.tuned_params.items())
        )
        dev = report.dev["all"]
        console.print(
            f"  dev NDCG@10 ({report.dev_requests} requests, {dev['requests']}): "
            f"tuned pipeline {_fmt(dev['pipeline'])}, recency "
            f"{_fmt(dev['recency'])}, popularity {_fmt(dev['popularity'])}"
        )
    out = json_out or settings.data_dir / "eval" / f"ranking-{report.world}.json"
    write_report(report, out)
    console.print(f"report: {out} (as Markdown: `quanzi eval ranking --markdown {out}`)")


@bench_app.command("feed")
def bench_feed(
    world: WorldOpt = None,
    seconds: Annotated[float, typer.Option(min=1, help="Measured seconds per mode.")] = 60.0,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Concurrent keep-alive connections (closed loop).")
    ] = 8,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers.")] = 2,
    candidates: Annotated[
        int, typer.Option(min=1, max=2000, help="Candidates sent with each `given` request.")
    ] = 500,
    mode: Annotated[str, typer.Option(help="given, self or both.")] = "both",
    rate: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Open loop: send requests at this fixed rate (req/s) over the "
            "connections, latency counted from each request's due time. Default: "
            "closed loop (max throughput at --concurrency).",
        ),
    ] = None,
    warmup: Annotated[
        bool,
        typer.Option(
            help="First send every viewer's request once on every connection, unmeasured "
            "(fills each worker's viewer cache)."
        ),
    ] = True,
    ingest_rate: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Mixed run: meanwhile send this many one-post POST /v1/posts requests per "
            "second (open loop, over --ingest-concurrency connections) by the world's "
            "users in the feed's circle.",
        ),
    ] = None,
    ingest_concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="Keep-alive connections of the mixed run's ingest client. An open-loop "
            "sender is capped at connections ÷ latency (8 connections at 90 ms: 89 posts/s), "
            "so give it enough for the rate you ask, as a platform's pool would.",
        ),
    ] = 32,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
    compare_rev: Annotated[
        str | None,
        typer.Option(
            help="Also run this same bench on another git revision (e.g. HEAD~1), back to "
            "back with this checkout on the same data, and print both p99s side by side.",
        ),
    ] = None,
    rounds: Annotated[
        int, typer.Option(min=1, max=10, help="With --compare-rev: alternate the two N times.")
    ] = 1,
) -> None:
    """Latency and throughput of /v1/feed/rank: server and load generator on loopback.

    Also measures the first request of viewers no worker has cached (a viewer-context
    miss), one at a time, after the steady-state runs."""
    if compare_rev is not None:
        from quanzi.commands.bench_compare import compare_feed_bench

        args = [f"--seconds={seconds:g}", f"--concurrency={concurrency}", f"--workers={workers}"]
        args += [f"--candidates={candidates}", f"--mode={mode}"]
        args += [f"--world={world}"] if world else []
        args += [f"--rate={rate:g}"] if rate else []
        args += [] if warmup else ["--no-warmup"]
        args += [f"--ingest-rate={ingest_rate:g}"] if ingest_rate else []
        args += [f"--ingest-concurrency={ingest_concurrency}"] if ingest_rate else []
        compare_feed_bench(compare_rev, args, rounds, json_out)
        return
    import json
    import os
    from dataclasses import asdict
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.bench_server import free_port, process_cpu_seconds
    from quanzi.evaluation.feed_bench import (
        bodies_for,
        cold_run,
        prepare,
        run_client,
        running_server,
        scratch_copy,
        warm_up,
    )
    from quanzi.settings import Settings

    modes = {"both": ["given", "self"], "given": ["given"], "self": ["self"]}.get(mode)
    if modes is None:
        raise fail(f"--mode must be given, self or both, not {mode!r}")
    settings = Settings()
    console = Console(width=max(Console().width, 120))  # the table has 10 columns
    try:
        plan = prepare(settings, _world_name(world), candidates, echo=console.print)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from exc
    if len(plan.candidate_ids) < candidates:
        console.print(
            f"note: circle {plan.circle_id} has {len(plan.candidate_ids)} passed "
            f"posts; sending those"
        )
    if ingest_rate is not None:  # every mixed run starts from the same store
        plan = scratch_copy(plan)
    port = free_port()
    load_before = os.getloadavg()
    results = []
    try:
        server = running_server(settings, plan, port, workers)
        with server as ready:
            console.print(
                f"models: {ready.get('models')}; degraded: "
                f"{[d['model'] for d in ready.get('degraded', [])] or 'none'}"
            )
            for m in modes:
                bodies = bodies_for(plan, m)
                if warmup:
                    console.print(
                        f"{m}: warming up ({len(bodies)} viewers × {concurrency} "
                        "connections, unmeasured) …"
                    )
                    warm_up(plan, port, m, bodies, concurrency)
                console.print(
                    f"{m}: {seconds:g} s at concurrency {concurrency}"
                    + (f", open loop at {rate:g} req/s" if rate else "")
                    + " …"
                )
                cpu_before = process_cpu_seconds(ready["_server_pid"])
                ingest = None
                if ingest_rate is not None:  # the mixed run: ingest at the same time
                    ingest = _start_mixed_ingest(
                        settings, plan, port, m, ingest_rate, seconds, ingest_concurrency
                    )
                result = run_client(plan, port, m, bodies, seconds, concurrency, rate=rate)
                if ingest is not None:
                    result["ingest"] = ingest()
                if rate is not None:
                    result["result"]["mode"] = f"{m} @ {rate:g}/s"
                cpu_after = process_cpu_seconds(ready["_server_pid"])
                if cpu_before is not None and cpu_after is not None:
                    result["result"]["server_cpu_ms_per_request"] = round(
                        (cpu_after - cpu_before) * 1000 / max(result["result"]["requests"], 1), 3
                    )
                results.append(result)
            if plan.cold_viewers:
                console.print(
                    f"{modes[0]}: first request of {len(plan.cold_viewers)} uncached "
                    "viewers, one at a time …"
                )
                cold = cold_run(plan, port, modes[0])
                cold["result"]["mode"] = f"{modes[0]}, viewer miss"
                results.append(cold)
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    load_after = os.getloadavg()
    table = Table(
        title=f"/v1/feed/rank on {plan.data_dir.name} ({workers} workers, "
        f"concurrency {concurrency}, {os.cpu_count()} CPUs; ms)"
    )
    # Times in ms; CPU = CPU time per request of the server (all workers) and the client.
    for col in (
        "mode",
        "requests",
        "req/s",
        "p50",
        "p95",
        "p99",
        "max",
        "errors",
        "server CPU",
        "client CPU",
    ):
        table.add_column(col, justify="right")
    for r in results:
        x = r["result"]
        server_cpu = x.get("server_cpu_ms_per_request")
        table.add_row(
            x["mode"],
            str(x["requests"]),
            f"{x['rps']:.1f}",
            f"{x['p50_ms']:.1f}",
            f"{x['p95_ms']:.1f}",
            f"{x['p99_ms']:.1f}",
            f"{x['max_ms']:.1f}",
            str(x["errors"]),
            "–" if server_cpu is None else f"{server_cpu:.2f}",
            f"{x['client_cpu_ms_per_request']:.2f}",
        )
        if r["error_samples"]:
            console.print(f"  {x['mode']} errors, e.g.: {r['error_samples'][:3]}")
    console.print(table)
    for r in results:
        if "ingest" in r:
            i = r["ingest"]["result"]
            console.print(
                f"meanwhile, one-post ingest at {ingest_rate:g}/s over {ingest_concurrency} "
                f"connections: {i['posts_per_s']:.1f} "
                f"posts/s acknowledged, p50 {i['p50_ms']:.0f} / p99 {i['p99_ms']:.0f} ms, "
                f"errors {i['errors']}, 429 {i['refused_429']}, 503 {i['refused_503']}, "
                f"batch sizes {i['batch_sizes']}"
            )
    console.print(
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
        f"(other work on this machine competes for the same cores)"
    )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "world": plan.data_dir.name,
                    "workers": workers,
                    "concurrency": concurrency,
                    "rate": rate,
                    "candidates": len(plan.candidate_ids),
                    "cpus": os.cpu_count(),
                    "load_before": load_before,
                    "load_after": load_after,
                    "models": ready.get("models"),
                    "degraded": ready.get("degraded"),
                    "results": [r["result"] for r in results],
                    "ingest_rate": ingest_rate,
                    "ingest_concurrency": ingest_concurrency,
                    "ingest": [r["ingest"]["result"] for r in results if "ingest" in r],
                    "plan": {k: v for k, v in asdict(plan).items() if k in ("circle_id", "as_of")},
                },
                indent=2,
                default=str,
            )
        )


def _start_mixed_ingest(
    settings: Any, plan: Any, port: int, mode: str, rate: float, seconds: float, connections: int
) -> Any:
    """Start one-post ingest at ``rate`` beside a feed run; returns the call that waits for
    its result."""
    import time

    from quanzi.evaluation.bench_server import bench_env
    from quanzi.evaluation.ingest_bench import mixed_ingest, run_client

    prefix = f"mix-{mode}-{int(time.time())}"
    key, posts = mixed_ingest(
        settings, plan.data_dir, plan.circle_id, plan.viewers, int(rate * seconds) + 8, prefix
    )
    env = bench_env(settings, plan.data_dir)
    return run_client(
        plan.data_dir,
        env,
        port,
        key,
        posts,
        connections,
        prefix,
        "single",
        rate,
        seconds,
        wait=False,
    )
