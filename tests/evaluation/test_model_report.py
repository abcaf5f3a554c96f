"""The README's models table is read from the champions' runs, row by row."""

from __future__ import annotations

from quanzi.evaluation.model_report import markdown_table, report_rows


def test_rows_read_ours_and_the_same_rows_baseline() -> None:
    champions = {
        "quality": ("3", {"test_qwk": 0.7171, "baseline_test_qwk": 0.65, "test_accuracy": 0.6})
    }
    rows = report_rows(champions)
    assert rows[0][:5] == ["quality (v3)", "gold test (686 reviews)", "QWK", "0.717", "0.650"]
    assert rows[1][3:5] == ["0.600", "–"]  # a missing baseline metric shows as a dash
    assert all(r[0].startswith("quality") for r in rows)  # tasks without a champion are absent


def test_markdown_has_a_header_and_one_line_per_row() -> None:
    rows = report_rows({"trust": ("1", {"test_macro_f1": 0.9})})
    lines = markdown_table(rows).splitlines()
    assert lines[0].startswith("| task |") and len(lines) == 2 + len(rows)
