"""The Typer app and its command groups; command modules attach to these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from quanzi.progress import ProgressCallback

if TYPE_CHECKING:
    from rich.console import Console


app = typer.Typer(
    name="quanzi",
    help="Quanzi (圈子): moderation, scoring, retrieval and feed ranking for brand circles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
world_app = typer.Typer(help="Build and load simulated circle worlds.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and maintenance.", no_args_is_help=True)
data_app = typer.Typer(
    help="The shared public corpora: stats, splits, cards.", no_args_is_help=True
)
train_app = typer.Typer(help="Train models (logged to MLflow).", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks (not tests): print figures for the README.", no_args_is_help=True
)

app.add_typer(world_app, name="world")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(bench_app, name="bench")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error that says what to fix and return the exit to raise."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@contextmanager
def stage_progress(
    console: Console | None = None, additive: frozenset[str] = frozenset()
) -> Iterator[ProgressCallback]:
    """A rich progress display with one bar per stage, and the ``(stage, done, total)``
    callback that long jobs (training, evaluation, promotion) report through. Stages in
    ``additive`` report increments; the others report how much is done so far."""
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        bars: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total)
            if stage in additive:
                bar.advance(bars[stage], done)
            else:
                bar.update(bars[stage], completed=done)

        yield progress
