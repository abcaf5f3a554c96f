"""``quanzi eval adversarial``: the moderation champion on the hand-written adversarial set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from quanzi.cli_groups import fail
from quanzi.commands.ranking import eval_app


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _rate_table(title: str, key: str, rows: list[tuple[str, int, float | None]]) -> Any:
    """One rich table of (name, support, rate) rows."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column(key)
    table.add_column("n", justify="right")
    table.add_column("rate", justify="right")
    for name, n, rate in rows:
        table.add_row(name, str(n), _fmt(rate))
    return table


@eval_app.command("adversarial")
def eval_adversarial(
    split: Annotated[
        str, typer.Option(help="dev, test (held out of all training and thresholds) or all.")
    ] = "test",
    json_out: Annotated[
        Path | None, typer.Option(help="Also write the full report (misses included) here.")
    ] = None,
    show_misses: Annotated[int, typer.Option(min=0, help="Wrong decisions to print.")] = 0,
) -> None:
    """Decision accuracy, clean pass rate and per-label / per-category recall of the
    moderation champion on the adversarial and look-alike set."""
    from mlflow.exceptions import MlflowException
    from rich.console import Console
    from rich.table import Table

    from quanzi.datasets.moderation.adversarial import SPLITS
    from quanzi.evaluation.adversarial_eval import evaluate_adversarial, predictor_fn
    from quanzi.models.champions import load_champion
    from quanzi.settings import Settings

    if split not in (*SPLITS, "all"):
        raise fail(f"--split must be one of {', '.join(SPLITS)} or all, not {split!r}")
    settings = Settings()
    try:
        predictor = load_champion(settings, "moderation")
    except (MlflowException, OSError) as exc:
        raise fail(f"cannot load the moderation champion ({exc}); run `quanzi bootstrap`") from exc
    if predictor is None:
        raise fail(
            f"no moderation champion in {settings.data_dir}: run `quanzi bootstrap` "
            "(or `quanzi train moderation` then `quanzi promote quanzi-moderation`)"
        )
    report = evaluate_adversarial(predictor_fn(predictor), None if split == "all" else split)
    console = Console()
    head = Table(title=f"Adversarial set, split {split}: {report.n} posts ({report.n_clean} clean)")
    for col in ("decision accuracy", "clean pass", "adversarial caught", "rejected"):
        head.add_column(col, justify="right")
    head.add_row(
        _fmt(report.decision_accuracy),
        _fmt(report.clean_pass_rate),
        _fmt(report.adversarial_caught),
        _fmt(report.adversarial_rejected),
    )
    console.print(head)
    console.print(
        _rate_table(
            "Recall per label (label named in the answer)",
            "label",
            [(lb, report.label_support[lb], r) for lb, r in report.label_recall.items()],
        )
    )
    console.print(
        _rate_table(
            "Per category: caught (adversarial) or passed (clean-*)",
            "category",
            [(c, report.category_support[c], r) for c, r in report.category_recall.items()],
        )
    )
    for miss in report.misses[:show_misses]:
        console.print(
            f"{miss['id']} {miss['category']}: expected {miss['expected']}, got {miss['got']} "
            f"{miss['labels']} · {miss['text'][:60]}",
            markup=False,
        )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        console.print(f"report written to {json_out}")
