"""``quanzi posts rescore``: re-moderate, re-score and re-embed stored posts with a chosen
model set, in this process or on a Ray cluster; ``quanzi bench rescore`` measures it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import bench_app, fail
from quanzi.commands.posts import posts_app

ENGINES = ("local", "ray")


def _named_versions(pairs: list[str]) -> dict[str, str]:
    named: dict[str, str] = {}
    for pair in pairs:
        task, sep, version = pair.partition("=")
        if not sep or not task or not version:
            raise fail(f"--version takes TASK=VERSION (e.g. moderation=4), got {pair!r}")
        named[task.strip()] = version.strip()
    return named


@posts_app.command("rescore")
def rescore(
    engine_name: Annotated[
        str, typer.Option("--engine", help="local (in this process) or ray.")
    ] = "local",
    address: Annotated[
        str,
        typer.Option(help="Ray cluster: auto (a running `ray start`), local, or ray://host:port."),
    ] = "auto",
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="CPUs of the cluster --address local starts.")
    ] = None,
    version: Annotated[
        list[str] | None,
        typer.Option(
            "--version",
            help="TASK=VERSION to use instead of the champion (repeatable); "
            "moderation=rules: the rule detectors alone.",
        ),
    ] = None,
    circle: Annotated[
        list[str] | None, typer.Option(help="Only posts of this circle (repeatable).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only posts created at or after this time (UTC).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Only posts created before this time (UTC).")
    ] = None,
    only_stale: Annotated[
        bool,
        typer.Option(
            "--only-stale/--all",
            help="Only posts scored by other versions than the chosen ones (the default), "
            "or every selected post.",
        ),
    ] = True,
    block_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Posts per id range and transaction.")
    ] = 1000,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=1, help="Fail (resumably) after this many seconds.")
    ] = 24 * 3600.0,
    json_out: Annotated[Path | None, typer.Option(help="Write the summary as JSON.")] = None,
) -> None:
    """Re-score stored posts with the champions (or named versions): stale posts by default.

    Changed decisions go through the same change log as live ingest, so every worker's
    feed, index and hot lists follow within their refresh interval. A killed run resumes
    when the same command runs again; a second run finds nothing stale.
    """
    import json
    from datetime import UTC

    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from quanzi.models.model_versions import UnknownVersionError, chosen_versions
    from quanzi.serving.rescore.local import Job, RescoreTimeout, run_local, save_encoder_index
    from quanzi.serving.rescore.plan import Selection, plan_run
    from quanzi.settings import Settings
    from quanzi.storage.db import engine_from_settings
    from quanzi.storage.orm import Post

    if engine_name not in ENGINES:
        raise fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine_name!r}")
    settings = Settings()
    settings.ensure_dirs()
    # Every check comes before the first post is read: versions, store, cluster.
    try:
        versions = chosen_versions(settings, _named_versions(version or []))
    except (UnknownVersionError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            conn.execute(select(Post.id, Post.scored_versions).limit(1)).all()
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(
            f"cannot read the store at {engine.url.render_as_string()}: {reason}; check "
            "QUANZI_DATABASE_URL and run `quanzi db upgrade`"
        ) from exc
    if engine_name == "ray":
        from quanzi.serving.rescore.ray_engine import RayUnavailable, connect

        try:
            connect(address, num_cpus)
        except RayUnavailable as exc:
            engine.dispose()
            raise fail(str(exc)) from exc
    tz = {"tzinfo": UTC}
    selection = Selection(
        circle_ids=tuple(circle or ()),
        since=since.replace(**tz) if since and since.tzinfo is None else since,
        until=until.replace(**tz) if until and until.tzinfo is None else until,
        only_stale=only_stale,
    )
    typer.echo(f"versions: {versions}")
    try:
        plan = plan_run(engine, versions, selection, block_size)
        if plan.resumed:
            typer.echo(
                f"resuming run {plan.run_id}: {len(plan.blocks)} of {plan.total_blocks} "
                f"blocks left ({plan.done_posts} posts were done before it stopped)"
            )
        else:
            typer.echo(f"{plan.total_posts} posts to rescore in {plan.total_blocks} blocks")
        job = Job(settings, engine.url.render_as_string(hide_password=False), plan)
        with tqdm(total=plan.todo_posts, desc="rescore", unit="post", dynamic_ncols=True) as bar:
            if engine_name == "ray":
                from quanzi.serving.rescore.ray_engine import run_ray

                summary = run_ray(job, bar.update, timeout_s=timeout_s)
            else:
                summary = run_local(job, bar.update, timeout_s=timeout_s)
        if summary.embedded:
            size = save_encoder_index(job, versions["encoder"], summary.shards)
            typer.echo(f"index {versions['encoder']}: {size} vectors saved to {settings.index_dir}")
    except RescoreTimeout as exc:
        raise fail(str(exc), code=3) from exc
    finally:
        engine.dispose()
    for line in summary.lines():
        typer.echo(line)
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    "engine": summary.engine,
                    "posts": summary.posts,
                    "seconds": summary.seconds,
                    "posts_per_s": summary.posts_per_s,
                    "embedded": summary.embedded,
                    "changes": dict(summary.changes),
                    **summary.detail,
                },
                ensure_ascii=False,
                indent=1,
            )
        )


@bench_app.command("rescore")
def bench_rescore(
    posts: Annotated[
        int, typer.Option(min=10, max=100_000_000, help="Posts in the bench store.")
    ] = 100_000,
    config: Annotated[
        list[str] | None,
        typer.Option(help="local, ray-1node, ray-2nodes (repeatable; default: all three)."),
    ] = None,
    cpus: Annotated[
        int | None, typer.Option(min=1, help="CPUs the Ray cluster gets (default: all).")
    ] = None,
    block_size: Annotated[int, typer.Option(min=1, help="Posts per id range.")] = 1000,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=10, help="Limit per configuration, seconds.")
    ] = 6 * 3600.0,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
) -> None:
    """Posts/s of `quanzi posts rescore` on the local engine and on Ray (one node, two
    nodes on this machine), each on a fresh copy of one store; CPU per post, memory."""
    import json
    import os
    import platform
    from dataclasses import asdict
    from datetime import UTC

    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.rescore_bench import run_bench
    from quanzi.settings import Settings

    configs = tuple(config or ("local", "ray-1node", "ray-2nodes"))
    unknown = sorted(set(configs) - {"local", "ray-1node", "ray-2nodes"})
    if unknown:
        raise fail(f"unknown --config {', '.join(unknown)}: use local, ray-1node, ray-2nodes")
    settings = Settings()
    console = Console(width=max(Console().width, 120))  # ten columns: never squeeze them
    load_before = os.getloadavg()
    try:
        rows = run_bench(settings, posts, configs, cpus, block_size, timeout_s)
    except (FileNotFoundError, KeyError) as exc:
        raise fail(f"cannot read the review corpora ({exc}); set QUANZI_CORPORA_DIR") from exc
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    local = next((r for r in rows if r.config == "local"), None)
    table = Table(title=f"quanzi posts rescore on {posts} posts")
    for column in ("config", "nodes", "actors", "posts/s", "vs local", "CPU ms/post",
                   "memory MiB", "model load s", "run s", "wall s"):  # fmt: skip
        table.add_column(column, justify="left" if column == "config" else "right")
    for r in rows:
        ratio = f"{r.posts_per_s / local.posts_per_s:.0%}" if local and local.posts_per_s else "—"
        table.add_row(
            r.config, str(r.nodes or 1), str(r.actors or 1), f"{r.posts_per_s:.0f}", ratio,
            f"{r.cpu_ms_per_post:.2f}", f"{r.memory_mb:.0f}", f"{r.load_s:.1f}", f"{r.seconds:.1f}",
            f"{r.wall_s:.1f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load before {load_before[0]:.1f}; Ray's overhead = 1 − (Ray one node ÷ local); "
        "memory: the local process's or the largest actor's peak RSS"
    )
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "cpus": os.cpu_count(),
                    "load_before": load_before,
                    "rows": [asdict(r) for r in rows],
                },
                ensure_ascii=False,
                indent=1,
            )
        )


@bench_app.command("rescore-live")
def bench_rescore_live(
    version: Annotated[
        list[str] | None,
        typer.Option(
            "--version",
            help="TASK=VERSION to rescore with (repeatable; default: the champions), e.g. "
            "the moderation challenger `moderation=2`.",
        ),
    ] = None,
    servers: Annotated[
        int, typer.Option(min=1, max=8, help="`quanzi serve` processes, one worker each.")
    ] = 2,
    rate: Annotated[
        float, typer.Option(min=1, help="Feed requests/s per server (open loop).")
    ] = 20.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Connections per server.")] = 4,
    block_size: Annotated[int, typer.Option(min=1, help="Posts per rescore batch.")] = 250,
    rescore_nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="CPU niceness of the rescore process: a backfill beside live servers on "
            "the same cores yields to them (0: the same priority as the servers).",
        ),
    ] = 10,
    settle_s: Annotated[
        float,
        typer.Option("--settle", min=1, help="Seconds after the rescore for changes to show."),
    ] = 60.0,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=60, help="Limit for the whole run, seconds.")
    ] = 3600.0,
    json_out: Annotated[Path | None, typer.Option(help="Write the figures as JSON.")] = None,
) -> None:
    """Rescore a copy of the bootstrapped store while `quanzi serve` answers feed load:
    time until every changed decision shows in each server's feed and the hot lists,
    and failed feed requests (the issue's demo-world target)."""
    import json
    import os

    from quanzi.evaluation.rescore_live_bench import LiveConfig, run_live
    from quanzi.models.model_versions import UnknownVersionError, chosen_versions
    from quanzi.settings import Settings

    settings = Settings()
    named = _named_versions(version or [])
    try:  # before anything starts: the versions must exist
        chosen = chosen_versions(settings, named)
    except (UnknownVersionError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"rescoring with {chosen}")
    config = LiveConfig(
        versions=[f"{t}={v}" for t, v in named.items()],
        servers=servers,
        rate=rate,
        concurrency=concurrency,
        block_size=block_size,
        settle_s=settle_s,
        timeout_s=timeout_s,
        rescore_nice=rescore_nice,
    )
    load_before = os.getloadavg()
    try:
        result = run_live(settings, config, log=typer.echo)
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    result["load_average_before"] = load_before
    result["rescore_nice"] = rescore_nice
    typer.echo(f"the rescore ran at CPU niceness {rescore_nice} beside the servers (niceness 0)")
    for line in live_lines(result):
        typer.echo(line)
    if json_out is not None:
        json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    feed = result["feed_visibility"]
    if result["load"]["failed"] or feed["not_seen_within_settle"] or feed["regressed"]:
        raise typer.Exit(1)


def live_lines(r: dict) -> list[str]:
    """The live bench's summary for a terminal."""
    rescore, feed, hot, load = (
        r["rescore"], r["feed_visibility"], r["hot_list_visibility"], r["load"]
    )  # fmt: skip
    refresh = r["refresh_interval_s"]

    def times(v: dict) -> str:
        if not v["n"]:
            return "none to follow"
        w = v["from_write"]
        return (
            f"{v['n']} followed, from the commit: max {v['max_s']:.2f} s, p99 "
            f"{v['p99_s']:.2f} s, p50 {v['p50_s']:.2f} s, {v['within_refresh_interval']} "
            f"within the {refresh:g} s refresh interval (from the batch's first write: max "
            f"{w['max_s']:.2f} s, p99 {w['p99_s']:.2f} s)"
        )

    lines = [
        f"{r['posts']} posts; rescore: {rescore['posts']} posts in {rescore['seconds']:.1f} s "
        f"({rescore['posts_per_s']:.0f} posts/s), wall {r['rescore_wall_s']:.1f} s",
        "changed decisions (the rescore's summary):",
        *(f"  {k}: {n}" for k, n in sorted(rescore["changes"].items())),
        f"visible changes: {r['visibility_changes']} (leave or enter the feed)",
        f"feed, per (post, server) on {r['servers']} server(s): {times(feed)}; "
        f"not seen within the settle time {feed['not_seen_within_settle']}, "
        f"wrong at the end {feed['regressed']}",
        f"hot lists: {times(hot)}; lists showing a post that does not pass "
        f"{hot['lists_showing_a_post_that_does_not_pass']}",
        f"feed load: {load['requests']} requests, {load['failed']} failed, p99 "
        f"{load['p99_ms']:.1f} ms ({load['mode']}, {load['rate_per_server']:g} req/s × "
        f"{r['servers']} server(s), {load['connections_per_server']} connections each, "
        f"{load['seconds']:.0f} s)",
        f"probes: {r['probe_requests']} requests, failures {r['probe_failures'] or 0}, "
        f"mean feed-probe round {r['probe_round_s']} s, hot-list round {r['hot_round_s']} s, "
        f"baseline mismatches "
        f"{r['baseline_mismatches']}, posts a non-moderation filter removed "
        f"{r['confounded_posts']}",
        f"load average before {r['load_average_before'][0]:.1f}",
    ]
    if load["error_samples"]:
        lines.append(f"error samples: {load['error_samples']}")
    return lines
