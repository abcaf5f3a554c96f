"""``quanzi train ranker``: the learned feed ranker from a circle world's logs (issue 5)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from quanzi.cli_groups import fail, stage_progress, train_app


@train_app.command("ranker")
def train_ranker_command(
    world: Annotated[
        str | None,
        typer.Option(
            "--world",
            "-w",
            help="World name (default: the demo world p<QUANZI_DEMO_POSTS>-s<SEED>).",
        ),
    ] = None,
    small: Annotated[
        bool,
        typer.Option("--small", help="CI-sized: 6 training days, one choice, TF-IDF post vectors."),
    ] = False,
    train_days: Annotated[
        int, typer.Option(min=1, max=60, help="Days of logs before the dev days to train on.")
    ] = 14,
) -> None:
    """Train the learned feed ranker on a world's pre-cutoff logs, log it to MLflow and
    register it as quanzi-ranker@challenger (promote with `quanzi promote quanzi-ranker`)."""
    from mlflow.exceptions import MlflowException
    from rich.console import Console
    from rich.table import Table

    from quanzi.models.ranking.offline.metrics import SEGMENTS
    from quanzi.settings import Settings
    from quanzi.training.pipeline import TaskContractError, train
    from quanzi.training.tasks_impl.ranker import RankerTask
    from quanzi.training.tasks_impl.ranker_config import RankerConfig

    settings = Settings()
    task = RankerTask(config=RankerConfig(world=world, train_days=train_days))
    console = Console()
    started = time.perf_counter()
    with stage_progress(console) as progress:
        try:
            trained = train(task, settings, small, progress)
        except (FileNotFoundError, ValueError, TaskContractError, MlflowException) as exc:
            raise fail(f"train ranker: {exc}") from exc
    run_id, version, metrics, ranker = (
        trained.run_id,
        trained.version,
        trained.metrics,
        trained.predictor,
    )
    days = ", ".join(task.data().days["test"])
    views = [
        (
            "test",
            "NDCG@10, eligible set (every method ranks the posts that pass the policy filters)",
        ),
        (
            "test_unfiltered",
            "NDCG@10, unfiltered (every shown post; pipelines rank filtered posts last)",
        ),
    ]
    explores = task.data().explores
    if explores:  # the unbiased headline first
        views.insert(
            0,
            (
                "test_explore",
                "HEADLINE: NDCG@10, eligible set, exploration "
                "requests only (random order: no position-order "
                "bias)",
            ),
        )
    for prefix, title in views:
        table = Table(title=f"{title} on held-out days {days} (world {task.data().world.name})")
        table.add_column("segment", no_wrap=True, min_width=12)
        for col in ("requests", "learned", "weighted", "recency", "popularity"):
            table.add_column(col, justify="right")
        gains = []
        for seg in SEGMENTS:
            key = "" if seg == "all" else "_" + seg.replace("-", "_")
            if f"{prefix}_ndcg10_learned{key}" not in metrics:
                continue
            table.add_row(
                seg,
                f"{metrics.get(f'{prefix}_requests{key}', 0):.0f}",
                *(
                    f"{metrics[f'{prefix}_ndcg10_{m}{key}']:.4f}"
                    for m in ("learned", "pipeline", "recency", "popularity")
                ),
            )
            for baseline in ("recency", "popularity"):
                gain = [
                    metrics.get(f"{prefix}_gain_vs_{baseline}{end}{key}")
                    for end in ("", "_lo", "_hi")
                ]
                if None not in gain:
                    gains.append(
                        f"{seg} vs {baseline} {gain[0]:+.4f} [{gain[1]:+.4f}, {gain[2]:+.4f}]"
                    )
        console.print(table)
        console.print("  learned − baseline, 95 % paired bootstrap: " + "; ".join(gains))
    console.print(
        "  position-debiased NDCG@10, eligible set, all requests: "
        + ", ".join(
            f"{label} {metrics[f'test_debiased_ndcg10_{m}']:.4f}"
            for m, label in (
                ("learned", "learned"),
                ("pipeline", "weighted"),
                ("recency", "recency"),
                ("popularity", "popularity"),
            )
        )
    )
    for what, source in task.data().sources.items():
        console.print(f"  {what}: {source}")
    dev = "dev_explore" if explores else "dev"
    console.print(
        f"  chosen on dev days {', '.join(task.data().days['dev'])} "
        f"({'exploration' if explores else 'all'} requests): "
        + ", ".join(
            f"{k}={ranker.config[k]}" for k in ("objective", "C", "ipw", "feature_set", "train_set")
        )
        + f" (dev NDCG@10 {metrics[f'{dev}_ndcg10_learned']:.4f} vs recency "
        f"{metrics[f'{dev}_ndcg10_recency']:.4f}, popularity "
        f"{metrics[f'{dev}_ndcg10_popularity']:.4f})"
    )
    console.print(
        "  weights (per standard deviation): "
        + ", ".join(
            f"{f} {w:+.2f}"
            for f, w in sorted(
                zip(ranker.features, ranker.weights, strict=True), key=lambda fw: -abs(fw[1])
            )
        )
    )
    console.print(
        f"registered quanzi-ranker version {version} as challenger (MLflow run "
        f"{run_id}, {time.perf_counter() - started:.0f} s)"
    )
