"""``quanzi gold …``: the annotated gold sets."""

from __future__ import annotations

import typer

from quanzi.cli_groups import app

gold_app = typer.Typer(help="Annotated gold sets: coverage and agreement.", no_args_is_help=True)
app.add_typer(gold_app, name="gold")


@gold_app.command("stats")
def gold_stats() -> None:
    """Tier distribution per stratum and two-pass agreement (quadratic-weighted kappa)."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.datasets.gold import load_quality_gold, read_annotations
    from quanzi.evaluation.gold_agreement import pass_agreement

    console = Console()
    gold = load_quality_gold()
    if gold.empty:
        raise typer.Exit(1)
    table = Table(title=f"Quality gold: {len(gold)} items (first pass)")
    for col in ("stratum", "n", "tier 0", "tier 1", "tier 2", "tier 3"):
        table.add_column(col)
    gold["sentiment"] = gold["label"].map({1: "positive", 0: "negative"})
    for key in ("split", "category", "band", "sentiment"):
        counts = gold.groupby([key, "tier"]).size().unstack(fill_value=0)
        for value, row in counts.iterrows():
            table.add_row(
                f"{key}={value}", str(int(row.sum())), *[str(int(row.get(t, 0))) for t in range(4)]
            )
    console.print(table)
    agreement = pass_agreement(read_annotations())
    console.print(
        f"two-pass agreement on {agreement.n_items} items: QWK {agreement.qwk:.3f}, "
        f"exact {agreement.exact:.1%}, within one tier {agreement.within_one:.1%}"
    )
    console.print(f"confusion (rows pass 1, columns pass 2, tiers 0–3): {agreement.confusion}")
