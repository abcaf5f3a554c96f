"""``quanzi posts rescore`` end to end: models registered in MLflow and loaded by version,
bad input refused before any post is touched, a promotion's changed decisions, a no-op
second run.

The three product tasks are the small real tasks of ``tests/utils/fake_tasks.py`` (a
digit run is a phone number: moderation rejects it), trained and promoted through the
real commands, so the rescore loads them the way it loads champions.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.evaluation.bench_server import free_port
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema
from quanzi.storage.orm import Circle, Post, RescoreRun, User

register_all()
runner = CliRunner()
fake_tasks = importlib.import_module("quanzi_tests.fake_tasks")

START = datetime(2026, 11, 1, tzinfo=UTC)
TEXTS = {
    "p-1": "物流很快，包装完好，下次还买",
    "p-2": "私聊加我 13912345678 有优惠",
    "p-3": "尺码合适，颜色正，做工精细",
}


@pytest.fixture
def store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Three stored posts that passed under the rule detectors, and an MLflow store."""
    fake_tasks.fake_product(settings, monkeypatch, tmp_path_factory.getbasetemp())
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    with session_factory(engine).begin() as session:
        session.add(Circle(id="c-1", name="圈", category="beauty", brand="B"))
        session.add(User(id="u-1", account_created_at=START))
        session.flush()
        for pid, text in TEXTS.items():
            session.add(
                Post(
                    id=pid,
                    circle_id="c-1",
                    author_id="u-1",
                    text=text,
                    status="pass",
                    created_at=START,
                )
            )
    engine.dispose()
    return settings


def _posts(settings: Settings) -> dict[str, object]:
    """Each post's (status, scored versions), and how many rescore runs were planned."""
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Post.id, Post.status, Post.scored_versions)).all()
            runs = conn.execute(select(RescoreRun.id)).all()
    finally:
        engine.dispose()
    return {pid: (status, key) for pid, status, key in rows} | {"runs": len(runs)}


def test_rescore_refuses_bad_input_then_applies_a_promotion_once(
    store: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    untouched = _posts(store)
    assert untouched["runs"] == 0

    unknown = runner.invoke(app, ["posts", "rescore", "--version", "moderation=7"])
    assert unknown.exit_code == 2, unknown.output
    assert "quanzi-moderation has no version '7' (registered: none)" in unknown.output

    no_cluster = runner.invoke(
        app, ["posts", "rescore", "--engine", "ray", "--address", f"ray://127.0.0.1:{free_port()}"]
    )
    assert no_cluster.exit_code == 2, no_cluster.output
    assert "no Ray cluster at ray://127.0.0.1:" in no_cluster.output

    with monkeypatch.context() as env:
        env.setenv("QUANZI_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
        unreachable = runner.invoke(app, ["posts", "rescore"])
    assert unreachable.exit_code == 2, unreachable.output
    assert "cannot read the store at postgresql" in unreachable.output
    assert _posts(store) == untouched  # nothing planned, nothing written

    assert runner.invoke(app, ["train", "all", "--small"]).exit_code == 0
    for kind in ("moderation", "quality", "trust"):
        assert runner.invoke(app, ["promote", f"quanzi-{kind}"]).exit_code == 0

    first = runner.invoke(app, ["posts", "rescore", "--block-size", "2"])
    assert first.exit_code == 0, first.output
    assert "3 posts to rescore in 2 blocks" in first.output
    assert "pass→reject contact: 1" in first.output
    after = _posts(store)
    assert after["p-2"][0] == "reject" and after["p-1"][0] == after["p-3"][0] == "pass"
    assert {after[p][1] for p in TEXTS} == {after["p-1"][1]}
    assert after["p-1"][1].startswith("moderation=1;quality=1;trust=1;encoder=")

    again = runner.invoke(app, ["posts", "rescore"])
    assert again.exit_code == 0, again.output
    assert "0 posts to rescore" in again.output and "no decision changed" in again.output

    # Back to the rule detectors alone (the fallback serving uses without a model), by name.
    assert runner.invoke(app, ["posts", "rescore", "--version", "quality=rules"]).exit_code == 2
    rules = runner.invoke(app, ["posts", "rescore", "--version", "moderation=rules"])
    assert rules.exit_code == 0, rules.output
    assert "3 posts to rescore" in rules.output
    keys = {_posts(store)[pid][1] for pid in TEXTS}  # type: ignore[index]
    assert {key.split(";")[0] for key in keys} == {"moderation=rules"}
