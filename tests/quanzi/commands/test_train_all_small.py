"""Acceptance: from a fresh data dir, ``quanzi train all --small`` trains the three real
tasks on the shared corpora, ``quanzi promote`` makes them champions and ``quanzi
score`` answers every post in the scoring schema with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()

POSTS = [
    {"id": "a", "text": "加我微信 wx13812345678 有内部优惠价，私聊发链接"},
    {
        "id": "b",
        "text": "用了两周，续航比宣传的短一小时，但拍照清晰，包装也完好，整体满意",
        "circle_id": "c1",
        "author": {"followers": 120, "certified": False},
        "verified_purchase": True,
    },
    {"id": 3, "text": "好"},
]


def test_train_all_small_promote_and_score_with_the_real_tasks(
    settings: Settings, tmp_path: Path
) -> None:
    if not (settings.corpora_dir / "cold").is_dir():
        pytest.fail(f"the shared corpora are missing from {settings.corpora_dir}")
    trained = runner.invoke(app, ["train", "all", "--small"])
    assert trained.exit_code == 0, trained.output
    for task in ("moderation", "quality", "trust"):
        assert f"registered quanzi-{task} version 1 as challenger" in trained.output
        promoted = runner.invoke(app, ["promote", task])
        assert promoted.exit_code == 0, promoted.output

    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in POSTS), encoding="utf-8"
    )
    scored = runner.invoke(
        app, ["score", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    )
    assert scored.exit_code == 0, scored.output
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", 3]
    for line in lines:
        assert line["moderation"]["decision"] in ("pass", "review", "reject")
        for label in line["moderation"]["labels"]:
            assert {"label", "prob", "spans"} <= label.keys()
        assert 0.0 <= line["quality"]["score"] <= 1.0 and line["quality"]["tier"] is not None
        assert line["trust"]["level"] in ("L2", "L3", "L4", "L5", "L6")
        assert abs(sum(line["trust"]["probs"].values()) - 1.0) < 1e-3
    assert lines[0]["moderation"]["decision"] != "pass"  # a WeChat handle with a phone number
