"""``quanzi evaluate``'s moderation section: the served stack on the held-out adversarial
split, COLD calibration, real-review collateral (rejected texts listed) and latency."""

from __future__ import annotations

from typing import Any

import numpy as np

from quanzi.evaluation.evaluation_report import _reject_reason, moderation_section
from quanzi.models.moderation.policy import detector_moderation
from quanzi.settings import Settings


class RulesOnly:
    """The policy's rules as a stand-in champion (no learned classifier)."""

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [detector_moderation(r["text"]) for r in records]

    def scores(self, texts: list[str], rules: bool = True) -> tuple[dict, list, list]:
        return {"offensive_model": np.full(len(texts), 0.3)}, [], []


def test_moderation_section_reports_adversarial_collateral_calibration_latency(
    settings: Settings,
) -> None:
    section = moderation_section(RulesOnly(), settings, collateral_n=200, cold_n=300)
    m = section.metrics
    assert 0.0 < m["adversarial_decision_accuracy"] <= 1.0
    assert 0.0 <= m["collateral_reject_rate"] <= 1.0 and m["collateral_n"] == 200
    assert m["latency_single_p99_ms"] >= m["latency_single_p50_ms"] > 0
    assert {
        "moderation_decisions.png",
        "moderation_categories.png",
        "moderation_calibration.png",
    } <= set(section.figures)
    text = "\n".join(section.lines)
    assert "| fraud |" in text and "rejected texts" in text
    # The rules alone catch the written evasions better than chance and pass look-alikes.
    assert m["adversarial_clean_pass"] > 0.8 and m["adversarial_caught"] > 0.5


def test_a_rejected_text_is_listed_with_what_rejected_it() -> None:
    answer = {
        "labels": [
            {"label": "contact", "band": "reject", "spans": [{"evidence": "sarah@qq.com"}]},
            {"label": "spam", "band": "reject", "spans": [{"evidence": "logit +0.89"}]},
            {"label": "ad", "band": "review", "spans": [{"evidence": "返佣"}]},
        ]
    }
    assert _reject_reason(answer) == "contact: sarah@qq.com; spam"
