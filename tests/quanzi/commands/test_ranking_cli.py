"""``quanzi eval ranking`` on a world with an exploration bucket: the unbiased table first."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.settings import Settings

register_all()
runner = CliRunner()


@pytest.mark.slow  # ≈ 20 s on 2 shared cores: world, the encoder, held-out and dev splits
def test_eval_ranking_prints_the_exploration_table_first_with_its_counts(
    settings: Settings,
) -> None:
    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig

    build_world(
        settings, 300, 5, name="tiny-x50", progress=False, config=WorldConfig(explore_fraction=0.5)
    )
    out = settings.data_dir / "report.json"
    result = runner.invoke(
        app,
        ["eval", "ranking", "--world", "tiny-x50", "--tune-trials", "1", "--json-out", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    headline = text.index("HEADLINE")
    assert headline < text.index("all requests (position-biased")
    assert "pipeline − popularity (exploration requests" in text
    report = json.loads(out.read_text())
    n = report["test_explore"]["all"]["requests"]
    assert 0 < n < report["test"]["all"]["requests"]
    assert re.search(rf"│ all\s+│\s+{n} │", text[headline:])  # the count is printed
    assert report["dev_requests"] == "exploration"
