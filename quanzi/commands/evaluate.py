"""``quanzi evaluate``: the Markdown + PNG report of every champion, logged to MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import app, fail


@app.command("evaluate")
def evaluate(
    out: Annotated[Path, typer.Option(help="Folder for report.md and its figures.")] = Path(
        "docs/evaluation"
    ),
    collateral: Annotated[
        int, typer.Option(min=100, help="Real held-out reviews read for collateral damage.")
    ] = 5000,
) -> None:
    """Every champion's figures, moderation on the held-out adversarial split, COLD
    calibration, real-review collateral and latency, in one report (also an MLflow run)."""
    from mlflow.exceptions import MlflowException
    from rich.console import Console
    from rich.table import Table

    from quanzi.evaluation.evaluation_report import write_report
    from quanzi.models.loading import load_models
    from quanzi.settings import Settings

    settings = Settings()
    try:
        models = load_models(settings)
    except (MlflowException, OSError) as exc:
        raise fail(f"cannot load the champions ({exc}); run `quanzi bootstrap`") from exc
    if models.predictors.get("moderation") is None:
        raise fail("no moderation champion: run `quanzi bootstrap` (or train and promote one)")
    path, metrics = write_report(models, settings, out, collateral_n=collateral)
    table = Table(title=f"quanzi evaluate → {path}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(metrics.items()):
        table.add_row(key, f"{value:.4f}")
    Console().print(table)
