"""``quanzi report models``: the champions against their baselines and anchors."""

from __future__ import annotations

import platform
from datetime import UTC, datetime

import typer

from quanzi.cli_groups import app, fail

report_app = typer.Typer(help="Reports for the README, read from MLflow.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("models")
def report_models(markdown: bool = typer.Option(False, help="Print a Markdown table.")) -> None:
    """Ours vs the same-rows TF-IDF baseline vs the published anchor, per task."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.model_report import champion_metrics, markdown_table, report_rows
    from quanzi.settings import Settings

    settings = Settings()
    champions = champion_metrics(settings)
    if not champions:
        raise fail(
            "no champion models: run `quanzi train all` and `quanzi promote …` first "
            "(or `quanzi bootstrap`)"
        )
    rows = report_rows(champions)
    stamp = (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"MLflow store {settings.resolved_mlflow_uri}"
    )
    if markdown:
        print(markdown_table(rows))
        print(f"\n(`quanzi report models`, {stamp})")
        return
    table = Table(title=f"Champion models vs baselines ({stamp})")
    for col in ("task", "test set", "metric", "ours", "baseline", "anchor / target"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
