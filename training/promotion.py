"""``quanzi promote NAME``: move ``champion`` to the challenger only if it is not worse.

The gate is MLflow's own: each metric of ``Task.gate`` becomes a ``MetricThreshold`` whose
floor (or ceiling) is the champion's value minus (plus) the tolerance, checked by
``mlflow.validate_evaluation_results``. MLflow's ``min_absolute_change`` must be
positive, i.e. it asks for an improvement; we want "not worse beyond a tolerance", which
is a plain threshold set from the champion.

Both versions must have been measured on the same fixed test sets: the runs log a content
hash of every evaluation set, and when they differ (the data changed, or one run was
``--small``) both models are evaluated again on the same data before comparing: today's
test sets, or what the task's ``comparison_for`` hook chooses from the challenger's run
params (the ranker: the challenger's training world, on exploration requests when that
world has them), with the gate on that protocol's metric names. The report says where
(``compared_on``).
Every decision, refused or forced included, is recorded as tags on the challenger version
and as a run in the ``promotions`` experiment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow import validate_evaluation_results
from mlflow.models import MetricThreshold
from mlflow.models.evaluation import EvaluationResult
from mlflow.models.evaluation.validation import ModelValidationFailedException

from quanzi.models.champions import (
    CHALLENGER,
    CHAMPION,
    download_model_version,
    mlflow_client,
    version_by_alias,
)
from quanzi.progress import ProgressCallback
from quanzi.settings import Settings
from quanzi.training.pipeline import check_metrics
from quanzi.training.task_registry import PROMOTIONS_EXPERIMENT, resolve_task, use_experiment
from quanzi.training.tasks import Comparison, Task


class PromotionError(ValueError):
    """Promotion cannot even be attempted (no challenger, unknown model)."""


@dataclass
class GateResult:
    passed: bool
    lines: list[str] = field(default_factory=list)  # one per metric, then MLflow's verdict


@dataclass
class PromotionResult:
    name: str
    challenger: str
    previous_champion: str | None
    decision: str  # "first" | "passed" | "forced" | "refused" | "unchanged"
    gate: GateResult
    # "logged test metrics[ (…)]" | "re-evaluated on <Comparison.compared_on>[ (small)]" | ""
    compared_on: str

    @property
    def promoted(self) -> bool:
        return self.decision in ("first", "passed", "forced")


def gate(
    task: Task,
    challenger: dict[str, float],
    champion: dict[str, float],
    metrics: dict[str, tuple[bool, float]] | None = None,
) -> GateResult:
    """Compare metrics with ``mlflow.validate_evaluation_results`` and the task's tolerances
    (``metrics``: the gate to apply instead of ``task.gate``, e.g. another protocol's)."""
    thresholds: dict[str, Any] = {}
    lines = []
    for metric, (greater_is_better, tolerance) in (
        task.gate if metrics is None else metrics
    ).items():
        if metric not in champion:
            lines.append(f"{metric}: the champion has no value; not compared")
            continue
        limit = champion[metric] - tolerance if greater_is_better else champion[metric] + tolerance
        thresholds[metric] = MetricThreshold(
            threshold=float(limit), greater_is_better=greater_is_better
        )
        value = challenger.get(metric)
        shown = "missing" if value is None else f"{value:.4f}"
        lines.append(
            f"{metric}: challenger {shown}, champion {champion[metric]:.4f}, "
            f"must be {'≥' if greater_is_better else '≤'} {limit:.4f} "
            f"(tolerance {tolerance})"
        )
    try:
        validate_evaluation_results(
            thresholds, EvaluationResult(metrics=dict(challenger), artifacts={})
        )
    except ModelValidationFailedException as exc:
        return GateResult(False, [*lines, f"MLflow validation failed: {exc.message}"])
    return GateResult(True, lines)


def _eval_set_hashes(params: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in params.items()
        if k.startswith("split.")
        and k.endswith(".sha256")
        and k not in ("split.train.sha256", "split.dev.sha256")
    }


def comparison(
    settings: Settings,
    task: Task,
    run_params: dict[str, str],
    small: bool,
    load: bool,
    progress: ProgressCallback | None = None,
) -> Comparison:
    """Where and on which metrics the challenger (``run_params``: its run's) meets the
    champion: the task's ``comparison_for`` hook, else its gate on the current test sets
    (loaded only when ``load``, i.e. when the logged test sets differ)."""
    hook = getattr(task, "comparison_for", None)
    if hook is not None:
        return hook(settings, run_params, small, load, progress=progress)
    if not load:
        return Comparison("logged test metrics", dict(task.gate))
    return Comparison("current test sets", dict(task.gate), task.load_data(settings, small))


def _reevaluate(
    settings: Settings,
    task: Task,
    versions: list[str],
    plan: Comparison,
    name: str,
    progress: ProgressCallback | None = None,
) -> list[dict[str, float]]:
    """Metrics of each version on ``plan.data`` (the same data for all)."""
    if plan.data is None:
        raise PromotionError(f"task {task.name}: comparison_for(load=True) returned no data")
    results = []
    for i, model_version in enumerate(versions):
        if progress:
            progress("evaluate both versions", i, len(versions))
        predictor = task.load(download_model_version(settings, name, model_version))
        metrics = check_metrics(task, task.evaluate(predictor, plan.data).metrics)
        missing = sorted(set(plan.gate) - metrics.keys())
        if missing:
            raise PromotionError(
                f"task {task.name}: the evaluation on {plan.compared_on} "
                f"reported no {', '.join(missing)}, which the gate compares"
            )
        results.append(metrics)
    if progress:
        progress("evaluate both versions", len(versions), len(versions))
    return results


def _record(settings: Settings, result: PromotionResult, forced: bool, reason: str) -> None:
    """Tags on the challenger version and one run in the ``promotions`` experiment."""
    client = mlflow_client(settings)
    report = "\n".join(result.gate.lines)
    tags = {
        "promotion": result.decision,
        "promotion_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "promotion_reason": reason,
        "promotion_report": report[:4000],
        "promotion_compared_on": result.compared_on,
        "promotion_previous_champion": result.previous_champion or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(result.name, result.challenger, key, value)
    use_experiment(settings, PROMOTIONS_EXPERIMENT)
    with mlflow.start_run(run_name=f"promote-{result.name}-v{result.challenger}"):
        mlflow.set_tags({"quanzi.promotion": result.decision, "quanzi.forced": str(forced).lower()})
        mlflow.log_params(
            {
                "model": result.name,
                "challenger": result.challenger,
                "previous_champion": result.previous_champion or "none",
                "decision": result.decision,
                "forced": forced,
                "reason": reason or "-",
                "compared_on": result.compared_on or "-",
            }
        )
        mlflow.log_text(report + "\n", "gate_report.txt")


def promote(
    settings: Settings,
    name: str,
    force: bool = False,
    reason: str = "",
    progress: ProgressCallback | None = None,
) -> PromotionResult:
    """Gate the challenger of ``name`` (task or registered name) against the champion and
    move the ``champion`` alias when it passes or ``force`` is set."""
    task = resolve_task(name)
    registered = task.registered_model
    client = mlflow_client(settings)
    challenger = version_by_alias(client, registered, CHALLENGER)
    if challenger is None:
        raise PromotionError(
            f"{registered} has no challenger: run `quanzi train {task.name}` first"
        )
    champion = version_by_alias(client, registered, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        return PromotionResult(
            registered,
            str(challenger.version),
            str(champion.version),
            "unchanged",
            GateResult(True, ["already the champion"]),
            "",
        )

    if champion is None:
        result = PromotionResult(
            registered,
            str(challenger.version),
            None,
            "first",
            GateResult(True, ["no champion yet: nothing to compare"]),
            "",
        )
    else:
        new_run = client.get_run(challenger.run_id).data
        old_run = client.get_run(champion.run_id).data
        new_metrics, old_metrics = dict(new_run.metrics), dict(old_run.metrics)
        params = dict(new_run.params)
        if _eval_set_hashes(params) == _eval_set_hashes(old_run.params):
            plan = comparison(settings, task, params, params.get("small") == "True", False)
            compared_on = plan.compared_on
        else:
            small = params.get("small") == "True" and old_run.params.get("small") == "True"
            plan = comparison(settings, task, params, small, True, progress)
            new_metrics, old_metrics = _reevaluate(
                settings,
                task,
                [str(challenger.version), str(champion.version)],
                plan,
                registered,
                progress,
            )
            compared_on = f"re-evaluated on {plan.compared_on}" + (" (small)" if small else "")
        verdict = gate(task, new_metrics, old_metrics, plan.gate)
        decision = "passed" if verdict.passed else ("forced" if force else "refused")
        result = PromotionResult(
            registered,
            str(challenger.version),
            str(champion.version),
            decision,
            verdict,
            compared_on,
        )
    if result.promoted:
        client.set_registered_model_alias(registered, CHAMPION, result.challenger)
    _record(settings, result, force, reason)
    return result


def list_versions(settings: Settings) -> list[dict[str, Any]]:
    """Every version of every registered model: name, version, aliases, created, metric."""
    client = mlflow_client(settings)
    rows = []
    for model in client.search_registered_models():
        # search results carry no aliases in every store; the registered model has them all
        aliases: dict[str, list[str]] = {}
        for alias, alias_version in (model.aliases or {}).items():
            aliases.setdefault(str(alias_version), []).append(alias)
        versions = client.search_model_versions(f"name = '{model.name}'")
        for mv in sorted(versions, key=lambda v: int(v.version)):
            tags = mv.tags or {}
            metric = tags.get("primary_metric", "")
            rows.append(
                {
                    "name": model.name,
                    "version": str(mv.version),
                    "aliases": sorted(aliases.get(str(mv.version), [])),
                    "created": dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC),
                    "primary_metric": metric,
                    "primary_value": tags.get("primary_value", ""),
                    "small": tags.get("small", ""),
                    "promotion": tags.get("promotion", ""),
                    "run_id": mv.run_id,
                }
            )
    rows.sort(key=lambda r: (r["name"], int(r["version"])))
    return rows
