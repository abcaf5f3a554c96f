"""The README's models-vs-baselines table, read from the champions' MLflow runs.

Why from MLflow: every figure then comes from the run that produced the served model,
with the baseline fitted on the same rows in the same run, so the table cannot drift
from what is deployed. Published anchors and the issue's targets are constants here.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanzi.models.champions import mlflow_client, registered_name, version_by_alias
from quanzi.settings import Settings


@dataclass(frozen=True)
class Row:
    """One line of the table: where to read ours and the baseline, and the anchor."""

    task: str
    test_set: str
    metric: str
    ours: str  # metric key in the champion run
    baseline: str | None  # metric key of the same-rows baseline in that run
    anchor: str  # published reference and/or target


ROWS: tuple[Row, ...] = (
    Row(
        "moderation · offensive",
        "COLD test (official)",
        "accuracy",
        "cold_test_accuracy",
        "baseline_cold_test_accuracy",
        "TF-IDF 0.799, COLDetector 0.81; target ≥ 0.82",
    ),
    Row(
        "moderation · offensive",
        "COLD test (official)",
        "macro-F1",
        "cold_test_macro_f1",
        "baseline_cold_test_macro_f1",
        "TF-IDF 0.795",
    ),
    Row(
        "moderation · ad",
        "SMS stratified 70/30",
        "F1",
        "sms_strat_f1",
        "baseline_sms_strat_f1",
        "TF-IDF 0.968; target ≥ 0.975",
    ),
    Row(
        "moderation · ad",
        "disguised ads in real reviews",
        "F1",
        "disguised_ads_f1",
        "baseline_disguised_ads_f1",
        "—",
    ),
    Row(
        "moderation · spam",
        "filler + copies vs real reviews",
        "F1",
        "test_spam_f1",
        "baseline_test_spam_f1",
        "—",
    ),
    Row(
        "moderation · contact",
        "held-out obfuscations",
        "precision",
        "contact_heldout_precision",
        "baseline_contact_heldout_precision",
        "target ≥ 0.95",
    ),
    Row(
        "moderation · contact",
        "held-out obfuscations",
        "recall",
        "contact_heldout_recall",
        "baseline_contact_heldout_recall",
        "target ≥ 0.95",
    ),
    *(
        Row(
            f"moderation · {label}",
            "adversarial test split (held out)",
            "F1",
            f"test_{label}_f1",
            f"baseline_test_{label}_f1",
            "target: recall ≥ 0.85 at precision ≥ 0.90",
        )
        for label in ("fraud", "gambling", "sexual", "privacy")
    ),
    Row(
        "moderation",
        "real review test texts",
        "share rejected",
        "collateral_reject_rate",
        None,
        "as low as possible",
    ),
    Row(
        "moderation", "contact look-alikes", "share rejected", "lookalike_fp_rate_reject", None, "—"
    ),
    Row(
        "quality",
        "gold test (686 reviews)",
        "QWK",
        "test_qwk",
        "baseline_test_qwk",
        "target ≥ 0.70",
    ),
    Row(
        "quality",
        "gold test (686 reviews)",
        "accuracy",
        "test_accuracy",
        "baseline_test_accuracy",
        "—",
    ),
    Row(
        "trust",
        "world test (text + provenance)",
        "macro-F1",
        "test_macro_f1",
        "baseline_text_test_macro_f1",
        "baseline = text-only TF-IDF",
    ),
    Row(
        "trust",
        "world test (text + provenance)",
        "macro-F1",
        "test_macro_f1",
        "baseline_provenance_test_macro_f1",
        "baseline = provenance-only",
    ),
)
TASK_OF = {"moderation": "moderation", "quality": "quality", "trust": "trust"}


def champion_metrics(settings: Settings) -> dict[str, tuple[str, dict[str, float]]]:
    """Task → (champion version, its run's metrics); tasks without a champion are absent."""
    client = mlflow_client(settings)
    out: dict[str, tuple[str, dict[str, float]]] = {}
    for task in ("moderation", "quality", "trust"):
        version = version_by_alias(client, registered_name(task), "champion")
        if version is not None:
            out[task] = (str(version.version), dict(client.get_run(version.run_id).data.metrics))
    return out


def report_rows(champions: dict[str, tuple[str, dict[str, float]]]) -> list[list[str]]:
    """Table cells (task, set, metric, ours, baseline, anchor) for the tasks present."""

    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    rows = []
    for row in ROWS:
        task = row.task.split(" · ")[0]
        if task not in champions:
            continue
        version, metrics = champions[task]
        rows.append(
            [
                f"{row.task} (v{version})",
                row.test_set,
                row.metric,
                fmt(metrics.get(row.ours)),
                fmt(metrics.get(row.baseline)) if row.baseline else "—",
                row.anchor,
            ]
        )
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    """The rows as a Markdown table."""
    head = ["task", "test set", "metric", "ours", "baseline (same rows)", "anchor / target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
