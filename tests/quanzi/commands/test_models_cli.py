"""``quanzi train|promote|models|score`` on small real tasks standing in for the product's.

The three product tasks are replaced by logistic regressions on character counts
(``tests/utils/fake_tasks.py``) answering in each task's scoring schema, so these tests
exercise the CLI and the MLflow store, not the product models.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings
from quanzi.training.task_registry import TASKS

register_all()
runner = CliRunner()


def _load_fake_tasks() -> ModuleType:
    return importlib.import_module("quanzi_tests.fake_tasks")


fake_tasks = _load_fake_tasks()


@pytest.fixture
def fake_product(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """An empty MLflow store and the three tasks replaced by small real ones."""
    return fake_tasks.fake_product(settings, monkeypatch, tmp_path_factory.getbasetemp())


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


POSTS = [
    {"id": "p3", "text": "物流很快，包装完好，下次还买"},
    {
        "id": 17,
        "text": "私聊加我 13912345678 有优惠",
        "circle_id": "c1",
        "author": {"followers": 10},
        "verified_purchase": False,
    },
    {"id": "p1", "text": "尺码合适，颜色正", "verified_purchase": True},
]


def test_train_all_promote_models_and_score_round_trip(
    fake_product: Settings, tmp_path: Path
) -> None:
    trained = runner.invoke(app, ["train", "all", "--small"])
    assert trained.exit_code == 0, trained.output
    assert "quanzi train all --small" in trained.output and "wall" in trained.output
    for kind in ("moderation", "quality", "trust"):
        assert f"registered quanzi-{kind} version 1 as challenger" in trained.output

    no_champion = runner.invoke(
        app,
        [
            "score",
            "--input",
            str(_write_jsonl(tmp_path / "in.jsonl", POSTS)),
            "--output",
            str(tmp_path / "out.jsonl"),
        ],
    )
    assert no_champion.exit_code == 2
    assert (
        "no champion for quanzi-moderation: run `quanzi train moderation` then "
        "`quanzi promote quanzi-moderation`"
    ) in no_champion.output

    for kind in ("moderation", "quality", "trust"):
        promoted = runner.invoke(app, ["promote", f"quanzi-{kind}"])
        assert promoted.exit_code == 0, promoted.output
        assert f"quanzi-{kind} champion is now version 1" in promoted.output

    listed = runner.invoke(app, ["models"])
    assert listed.exit_code == 0, listed.output
    for kind in ("moderation", "quality", "trust"):
        assert f"quanzi-{kind}" in listed.output
    assert "champion" in listed.output and "test_accuracy" in listed.output

    scored = runner.invoke(
        app,
        [
            "score",
            "--input",
            str(tmp_path / "in.jsonl"),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--batch-size",
            "2",
        ],
    )
    assert scored.exit_code == 0, scored.output
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["p3", 17, "p1"]  # order and id types kept
    for line in lines:
        assert set(line) == {"id", "moderation", "quality", "trust"}
        assert {"decision", "labels"} <= line["moderation"].keys()
        assert {"score", "tier"} <= line["quality"].keys()
        assert {"level", "probs", "reasons"} <= line["trust"].keys()
    assert lines[1]["moderation"]["decision"] == "reject"
    assert lines[1]["moderation"]["labels"][0].keys() == {"label", "prob", "spans"}
    assert lines[0]["moderation"] == {"decision": "pass", "labels": []}


def test_promote_cli_refuses_a_worse_model_and_force_needs_a_reason(
    fake_product: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["train", "quality", "--small"]).exit_code == 0
    assert runner.invoke(app, ["promote", "quality"]).exit_code == 0
    monkeypatch.setitem(
        TASKS, "quality", fake_tasks.CharCountTask(name="quality", kind="quality", degrade=True)
    )
    assert runner.invoke(app, ["train", "quality", "--small"]).exit_code == 0

    refused = runner.invoke(app, ["promote", "quanzi-quality"])
    assert refused.exit_code == 1
    assert "refused: quanzi-quality version 2 is worse than champion version 1" in refused.output

    no_reason = runner.invoke(app, ["promote", "quanzi-quality", "--force"])
    assert no_reason.exit_code == 2 and "--force needs --reason" in no_reason.output
    forced = runner.invoke(app, ["promote", "quanzi-quality", "--force", "--reason", "drill"])
    assert forced.exit_code == 0, forced.output
    assert "forced: quanzi-quality champion is now version 2" in forced.output


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": 1, "text": "好"}, {"id": 2}], "in.jsonl:2: missing string field 'text'"),
        ([{"id": 1, "text": "好"}, "not an object"], "in.jsonl:2: expected a JSON object"),
        ([{"text": "好"}], "in.jsonl:1: missing field 'id'"),
        (
            [{"id": 1, "text": "好", "verified_purchase": "yes"}],
            "in.jsonl:1: 'verified_purchase' must be true or false",
        ),
        ([{"id": 1, "text": "好", "author": "bob"}], "in.jsonl:1: 'author' must be a JSON object"),
    ],
)
def test_score_names_the_bad_line_and_writes_nothing(
    fake_product: Settings, tmp_path: Path, rows: list[object], message: str
) -> None:
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    result = runner.invoke(
        app, ["score", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_score_reports_invalid_json_with_its_line(fake_product: Settings, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "好"}\n{"id": 2, "text": \n', encoding="utf-8")
    result = runner.invoke(
        app, ["score", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    )
    assert result.exit_code == 2 and "in.jsonl:2: invalid JSON" in result.output


def test_promote_unknown_model_and_missing_challenger_are_one_line_errors(
    fake_product: Settings,
) -> None:
    unknown = runner.invoke(app, ["promote", "quanzi-nope"])
    assert unknown.exit_code == 2 and "unknown model 'quanzi-nope'" in unknown.output
    missing = runner.invoke(app, ["promote", "trust"])
    assert missing.exit_code == 2
    assert "quanzi-trust has no challenger: run `quanzi train trust` first" in missing.output


def test_models_on_an_empty_store_says_how_to_start(fake_product: Settings) -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "run `quanzi train all`" in result.output
