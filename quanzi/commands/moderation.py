"""``quanzi bench baselines``: the TF-IDF baselines of every moderation task, as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from quanzi.cli_groups import bench_app, fail


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _summary_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """(task, test set, n, accuracy, precision, recall, F1, macro-F1, anchor / target)."""
    rows: list[tuple[str, ...]] = []

    def add(task: str, name: str, m: dict[str, Any] | None, anchor: str = "") -> None:
        if not m or not m.get("n"):
            return
        rows.append(
            (
                task,
                name,
                str(m["n"]),
                _pct(m.get("accuracy")),
                _pct(m.get("precision")),
                _pct(m.get("recall")),
                _pct(m.get("f1")),
                _pct(m.get("macro_f1")),
                anchor,
            )
        )

    off = results["offensive"]
    add(
        "offensive",
        "COLD test (train+dev)",
        off["official"],
        "acc 0.799 / mF1 0.795 · target acc ≥ 0.82",
    )
    add("offensive", "COLD test, train deduped vs test", off.get("train_deduped_against_test"))
    ad = results["ad"]
    spread = ad.get("sms_strat_70_30_f1_over_seeds")
    add(
        "ad",
        "SMS stratified 70/30",
        ad.get("sms_strat_70_30"),
        "F1 0.968 · target ≥ 0.975"
        + (
            f" · F1 {spread['min']:.3f}–{spread['max']:.3f} over "
            f"{len(spread['seeds'])} other splits"
            if spread
            else ""
        ),
    )
    add("ad", "ad test: SMS (hash split)", ad["ad_test_sms"])
    add("ad", "ad test: disguised reviews", ad["ad_test_review"])
    spam = results["spam"]
    add("spam", "filler vs real (classifier)", spam["classifier_filler_vs_real"])
    add("spam", "copies vs real (near-dup)", spam["near_dup_copies_vs_real"])
    add("spam", "all (classifier or near-dup)", spam["classifier_or_near_dup_all"])
    for system in ("baseline", "detectors", "baseline_or_detectors"):
        c = results["contact"][system]
        add(
            "contact",
            f"{system}: held-out transforms",
            c["heldout_transforms"],
            "target P ≥ 0.95, R ≥ 0.95" if system == "baseline_or_detectors" else "",
        )
        add("contact", f"{system}: train transforms", c["train_transforms"])
    return rows


def print_report(results: dict[str, Any]) -> None:
    """Rich tables: summary, detector recall per transform, collateral per category."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough for the Chinese columns
        console = Console(width=150)
    summary = Table(title="Moderation baselines: char 1–3-gram TF-IDF + logistic regression")
    for col in ("task", "test set", "n", "acc", "P", "R", "F1", "macro-F1", "anchor / target"):
        summary.add_column(
            col, justify="right" if col in ("n", "acc", "P", "R", "F1", "macro-F1") else "left"
        )
    for row in _summary_rows(results):
        summary.add_row(*row)
    console.print(summary)

    recall = Table(
        title="Contact: recall per transform (test set; and detectors on "
        f"{next(iter(results['detector_recall_per_transform'].values()))['n']} "
        "snippets per transform alone)"
    )
    for col in (
        "transform",
        "group",
        "test n",
        "baseline",
        "detectors",
        "either",
        "detectors alone",
        "missed example",
    ):
        recall.add_column(col)
    contact = results["contact"]
    for name, d in results["detector_recall_per_transform"].items():
        test = {
            s: contact[s]["recall_by_transform"].get(name, {})
            for s in ("baseline", "detectors", "baseline_or_detectors")
        }
        recall.add_row(
            name,
            d["group"],
            str(test["baseline"].get("n", 0)),
            *(_pct(test[s].get("flagged")) for s in test),
            _pct(d["recall"]),
            repr(d["missed_examples"][0])[:48] if d["missed_examples"] else "",
        )
    console.print(recall)

    looks = Table(title="Contact: false-positive rate on clean look-alikes (test)")
    for col in ("look-alike", "n", "baseline", "detectors"):
        looks.add_column(col)
    for name, d in contact["detectors"]["fp_rate_by_lookalike"].items():
        looks.add_row(
            name,
            str(d["n"]),
            _pct(contact["baseline"]["fp_rate_by_lookalike"][name]["flagged"]),
            _pct(d["flagged"]),
        )
    console.print(looks)

    coll = results["collateral"]
    columns = [c for c in next(iter(coll.values())) if c != "n"]
    table = Table(title="Collateral: share of real review test texts flagged (threshold 0.5)")
    table.add_column("category")
    table.add_column("n", justify="right")
    for c in columns:
        table.add_column(c, justify="right")
    for group, d in coll.items():
        table.add_row(group, str(d["n"]), *(f"{100 * d[c]:.1f}%" for c in columns))
    console.print(table)
    meta = results["meta"]
    console.print(f"{meta['date']} · {meta['machine']} · {meta['seconds']['total']} s")


@bench_app.command("baselines")
def baselines(
    small: Annotated[
        bool, typer.Option("--small", help="CI-sized sets and a COLD sample.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of every generated set.")] = 13,
    output: Annotated[
        Path | None,
        typer.Option(
            help="JSON results file (default $QUANZI_DATA_DIR/bench/baselines[-small].json)."
        ),
    ] = None,
) -> None:
    """Fit and measure the TF-IDF baseline of every moderation task; print tables, write JSON."""
    from quanzi.evaluation.baselines import BenchConfig, run_baselines, write_results
    from quanzi.settings import Settings

    settings = Settings()
    config = BenchConfig.small(seed) if small else BenchConfig.full(seed)
    try:
        results = run_baselines(
            config, settings.corpora_dir, progress=lambda m: typer.echo(f"· {m}", err=True)
        )
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    path = output or settings.data_dir / "bench" / f"baselines{'-small' if small else ''}.json"
    write_results(results, path)
    print_report(results)
    typer.echo(f"wrote {path}")
