"""``quanzi train moderation|quality|trust|all``, ``quanzi promote``, ``quanzi models``,
``quanzi score``: the MLflow lifecycle of the three product models and batch scoring."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from quanzi.cli_groups import app, fail, stage_progress, train_app

SmallOption = Annotated[
    bool,
    typer.Option("--small", help="CI-sized run: small data, a few minutes at most on 2 CPU cores."),
]


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML/JSON file of config values (nested tables for nested configs)."
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="key=value override (repeatable; dotted keys for nested fields, values read as "
        "TOML), applied after --config. Unknown keys are errors.",
    ),
]


def _train(
    task_names: list[str],
    small: bool,
    config_file: Path | None = None,
    overrides: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Run the pipeline for each task in order; one-line errors for known failures."""
    from mlflow.exceptions import MlflowException

    from quanzi.settings import Settings
    from quanzi.training.pipeline import TaskContractError, run_task
    from quanzi.training.task_config import resolve_task_config
    from quanzi.training.task_registry import TASKS, UnknownTaskError

    settings = Settings()
    rows = []
    for name in task_names:
        start = time.perf_counter()
        typer.echo(f"training {name}{' (small)' if small else ''} …")
        try:
            task = TASKS[name]
            if config_file is not None or overrides:  # defaults ← file ← overrides
                base = task.config_for(small)
                task = task.using(resolve_task_config(base, config_file, overrides or ()))
            run_id, model_version = run_task(task, settings, small)
        except (
            UnknownTaskError,
            TaskContractError,
            FileNotFoundError,
            MlflowException,
            ValueError,
        ) as exc:
            raise fail(f"train {name}: {exc}") from exc
        seconds = time.perf_counter() - start
        rows.append(
            {
                "task": name,
                "model": task.registered_model,
                "version": model_version,
                "run_id": run_id,
                "seconds": seconds,
                "primary": task.primary_metric,
            }
        )
        typer.echo(
            f"registered {task.registered_model} version {model_version} as challenger "
            f"(MLflow run {run_id}, {seconds:.0f} s)"
        )
    return rows


def _make_train_command(task_name: str) -> None:
    def command(
        small: SmallOption = False, config: ConfigOption = None, set_: SetOption = None
    ) -> None:
        _train([task_name], small, config, set_)

    command.__doc__ = (
        f"Train the {task_name} model, log it to MLflow and register it as challenger."
    )
    train_app.command(task_name)(command)


for _task_name in ("moderation", "quality", "trust"):
    _make_train_command(_task_name)


@train_app.command("all")
def train_all(small: SmallOption = False) -> None:
    """Train moderation, quality and trust in order (the encoder is separate) and time it."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.models.champions import mlflow_client
    from quanzi.settings import Settings
    from quanzi.training.task_registry import TASK_MODULES

    start = time.perf_counter()
    rows = _train(list(TASK_MODULES), small)
    total = time.perf_counter() - start
    client = mlflow_client(Settings())
    table = Table(title=f"quanzi train all{' --small' if small else ''}: {total:.0f} s wall")
    for col in ("task", "model", "version", "primary metric", "value", "seconds", "run"):
        table.add_column(col, justify="right" if col in ("version", "value", "seconds") else "left")
    for row in rows:
        value = client.get_run(row["run_id"]).data.metrics.get(row["primary"])
        table.add_row(
            row["task"],
            row["model"],
            row["version"],
            row["primary"],
            "–" if value is None else f"{value:.4f}",
            f"{row['seconds']:.0f}",
            row["run_id"][:12],
        )
    Console(width=max(100, Console().width)).print(table)


@app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Task or registered model, e.g. quanzi-quality.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even if the gate refuses (recorded with the reason)."
        ),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why; recorded with the decision.")] = "",
) -> None:
    """Move the champion alias to the challenger if it is not worse on the fixed test sets
    (the ranker: on the challenger's world; the report says where it compared)."""
    from mlflow.exceptions import MlflowException

    from quanzi.settings import Settings
    from quanzi.training.promotion import PromotionError, promote
    from quanzi.training.task_registry import UnknownTaskError

    if force and not reason.strip():
        raise fail('--force needs --reason "…" (it is recorded with the forced promotion)')
    # re-evaluating both versions can take minutes (the ranker hydrates held-out days)
    with stage_progress() as progress:
        try:
            result = promote(Settings(), name, force=force, reason=reason, progress=progress)
        except (
            PromotionError,
            UnknownTaskError,
            MlflowException,
            FileNotFoundError,
            ValueError,
        ) as exc:
            raise fail(str(exc)) from exc
    if result.compared_on:
        typer.echo(f"  compared on: {result.compared_on}")
    for line in result.gate.lines:
        typer.echo(f"  {line}")
    if result.decision == "unchanged":
        typer.echo(f"{result.name} version {result.challenger} is already the champion")
    elif result.decision == "refused":
        raise fail(
            f"refused: {result.name} version {result.challenger} is worse than champion "
            f"version {result.previous_champion} beyond the tolerances "
            f'({result.compared_on}); use --force --reason "…" to override',
            code=1,
        )
    else:
        before = f" (was version {result.previous_champion})" if result.previous_champion else ""
        typer.echo(
            f"{result.decision}: {result.name} champion is now version {result.challenger}{before}"
        )


@app.command("models")
def models_cmd() -> None:
    """List registered model versions with their aliases and primary metric."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.settings import Settings
    from quanzi.training.promotion import list_versions

    rows = list_versions(Settings())
    if not rows:
        typer.echo("no registered models yet: run `quanzi train all`")
        return
    table = Table(title="Registered models")
    for col in (
        "name",
        "version",
        "aliases",
        "created (UTC)",
        "primary metric",
        "value",
        "small",
        "promotion",
    ):
        table.add_column(col, justify="right" if col in ("version", "value") else "left")
    for row in rows:
        try:
            value = f"{float(row['primary_value']):.4f}"
        except ValueError:
            value = row["primary_value"]
        table.add_row(
            row["name"],
            row["version"],
            ", ".join(row["aliases"]),
            row["created"].strftime("%Y-%m-%d %H:%M:%S"),
            row["primary_metric"],
            value,
            row["small"],
            row["promotion"],
        )
    Console(width=max(120, Console().width)).print(table)


def read_score_input(path: Path) -> Iterator[dict[str, Any]]:
    """Validated records of a scoring JSONL file; errors name the file and line."""
    from quanzi.models.scoring import RecordError, validate_record

    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                raise ValueError(
                    f"{path}:{lineno}: empty line; every line must be one JSON "
                    "object with 'id' and 'text'"
                )
            try:
                yield validate_record(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
            except RecordError as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc


@app.command("score")
def score_cmd(
    input: Annotated[
        Path,
        typer.Option(
            "--input", help="JSONL: id, text, optional circle_id, author, verified_purchase."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", help="JSONL written in input order.")],
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Records per batch.")] = 256,
) -> None:
    """Score posts with the champion models (moderation, quality, trust); also backfills."""
    from mlflow.exceptions import MlflowException
    from tqdm import tqdm

    from quanzi.models.scoring import MissingChampionError, Scorer, batched
    from quanzi.settings import Settings
    from quanzi.training.task_registry import UnknownTaskError

    if not input.is_file():
        raise fail(f"input file {input} does not exist")
    if output.resolve() == input.resolve():
        raise fail("--output must differ from --input")
    try:  # validate every line before loading models or writing anything
        total = sum(1 for _ in read_score_input(input))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(str(exc)) from exc
    try:
        scorer = Scorer.from_champions(Settings(), batch_size=batch_size)
    # ValueError: e.g. a quality champion trained on another encoder's vectors
    except (MissingChampionError, UnknownTaskError, MlflowException, OSError, ValueError) as exc:
        raise fail(str(exc)) from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    start = time.perf_counter()
    try:
        with (
            os.fdopen(fd, "w", encoding="utf-8") as out,
            tqdm(total=total, desc="score", unit="post") as bar,
        ):
            for batch in batched(read_score_input(input), batch_size * 4):
                for result in scorer.score(batch):
                    out.write(json.dumps(result, ensure_ascii=False) + "\n")
                bar.update(len(batch))
        os.replace(tmp_name, output)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    seconds = time.perf_counter() - start
    typer.echo(f"wrote {output} ({total} posts, {total / max(seconds, 1e-9):.0f} posts/s)")
