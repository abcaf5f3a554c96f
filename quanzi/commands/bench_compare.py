"""``quanzi bench feed --compare-rev REV``: the feed bench on two revisions, back to back."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from quanzi.cli_groups import fail


def _cell(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["–"] * 4
    cpu = row.get("server_cpu_ms_per_request")
    return [
        f"{row['rps']:.1f}",
        f"{row['p50_ms']:.1f}",
        f"{row['p99_ms']:.1f}",
        "–" if cpu is None else f"{cpu:.2f}",
    ]


def compare_feed_bench(rev: str, args: list[str], rounds: int, json_out: Path | None) -> None:
    """Run ``quanzi bench feed <args>`` on ``rev`` then on this checkout, ``rounds`` times,
    and print each run's p99 beside the other's (``evaluation/bench_revisions.py``)."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.bench_revisions import (
        describe,
        is_dirty,
        p99_rows,
        repo_root,
        revision_view,
        run_quanzi,
    )

    console = Console(width=max(Console().width, 120))
    root = repo_root()
    try:
        subjects = {"other": describe(root, rev), "this": describe(root)}
    except RuntimeError as exc:
        raise fail(str(exc)) from exc
    labels = {side: text.split(" ", 1)[0] for side, text in subjects.items()}
    labels["this"] += " (this checkout" + (", uncommitted changes)" if is_dirty(root) else ")")
    for side in ("other", "this"):
        console.print(f"{labels[side]}: {subjects[side]}")
    runs: list[tuple[int, str, dict[str, dict[str, Any]]]] = []
    with tempfile.TemporaryDirectory(prefix="quanzi-compare-") as tmp:
        try:
            with revision_view(rev, root) as view:
                for i in range(rounds):
                    for side, path in (("other", view), ("this", None)):
                        console.rule(f"round {i + 1}: {labels[side]}")
                        out = Path(tmp) / f"{side}-{i}.json"
                        run_quanzi(["bench", "feed", *args, f"--json-out={out}"], path)
                        runs.append((i, side, p99_rows(out)))
        except RuntimeError as exc:
            raise fail(str(exc)) from exc
    table = Table(title=f"quanzi bench feed {' '.join(args)}: {rev} vs this checkout (ms)")
    for col in ("round", "mode", "revision", "req/s", "p50", "p99", "server CPU/req", "load"):
        table.add_column(col, justify="right" if col not in ("mode", "revision") else "left")
    for i, side, rows in runs:
        meta = rows["_meta"]
        for mode, row in rows.items():
            if mode == "_meta":
                continue
            load = f"{meta['load_before'][0]:.1f}→{meta['load_after'][0]:.1f}"
            table.add_row(str(i + 1), mode, labels[side], *_cell(row), load)
    console.print(table)
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    "revisions": labels,
                    "args": args,
                    "runs": [
                        {"round": i + 1, "revision": labels[s], "results": r} for i, s, r in runs
                    ],
                },
                indent=1,
            )
        )
