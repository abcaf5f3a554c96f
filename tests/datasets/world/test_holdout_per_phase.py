"""Per-phase hold-out: the last days of every campaign phase are held out, nothing else
changes, and the training side never sees a held-out day."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from quanzi.datasets.world.build import build_world, sha256_file
from quanzi.datasets.world.config import CST, WorldConfig
from quanzi.datasets.world.tables import read_world
from quanzi.models.ranking.params import campaign_phase, phase_for
from quanzi.settings import Settings

from .conftest import POSTS, SEED

# WorldConfig.calendar_phase index → the feed calendar's phase name
PHASE_NAMES = {
    -1: "off_season",
    0: "warmup",
    1: "seeding",
    2: "preheat",
    3: "peak",
    4: "after_sales",
}


def _phased(days: int = 47, per_phase: int = 2) -> WorldConfig:
    cfg = WorldConfig(holdout_per_phase=per_phase)
    return replace(cfg, sim_start=cfg.sim_end - timedelta(days=days), sim_days=days)


def test_the_world_calendar_is_the_feed_calendar() -> None:
    cfg = WorldConfig()
    day = date(2026, 1, 1)
    while day.year == 2026:
        start = cfg.sim_start.replace(year=day.year, month=day.month, day=day.day)
        assert PHASE_NAMES[cfg.calendar_phase(start)] == phase_for(day.month, day.day), day
        day += timedelta(days=1)


def test_every_phase_of_the_simulated_days_has_its_last_days_held_out() -> None:
    cfg = _phased()
    days = [cfg.sim_start + timedelta(days=d) for d in range(cfg.sim_days)]
    held = cfg.held_day_indices()
    phases = {campaign_phase(d) for d in days}
    assert phases == {"warmup", "seeding", "preheat", "peak", "after_sales"}
    assert {campaign_phase(days[d]) for d in held} == phases
    for d in held:  # each held day is among the last 2 of its phase
        later = [
            e
            for e in range(d + 1, cfg.sim_days)
            if campaign_phase(days[e]) == campaign_phase(days[d])
        ]
        assert len(later) <= 1
    assert cfg.cutoff == days[held[0]]
    # The default layout is unchanged: the last 3 days.
    assert WorldConfig().held_day_indices() == [27, 28, 29]
    with pytest.raises(ValueError, match="holds out"):
        _phased(days=10, per_phase=9)


@pytest.fixture(scope="module")
def phased(world_settings: Settings, world: Path) -> Path:
    """The shared test world's seed, size and days, with per-phase hold-out."""
    cfg = WorldConfig(holdout_per_phase=2)
    return build_world(world_settings, POSTS, SEED, name="phased", config=cfg, progress=False)


def test_per_phase_hold_out_only_moves_days_between_the_two_files(
    world: Path, phased: Path, world_settings: Settings
) -> None:
    for t in ("users", "user_relations", "brand_relations", "items", "orders", "posts"):
        assert sha256_file(world / f"{t}.parquet") == sha256_file(phased / f"{t}.parquet")
    manifest = json.loads((phased / "manifest.json").read_text())
    assert manifest["holdout_days"] == [
        "2026-10-30",
        "2026-10-31",
        "2026-11-09",
        "2026-11-10",
        "2026-11-11",
        "2026-11-24",
        "2026-11-25",
    ]
    both = []
    for folder in (world, phased):
        frames = [
            pd.read_parquet(folder / f)
            for f in ("interactions.parquet", "eval/interactions_holdout.parquet")
        ]
        both.append(pd.concat(frames).sort_values("id").reset_index(drop=True))
    pd.testing.assert_frame_equal(both[0], both[1])  # the same events, split differently

    w = read_world(world_settings, "phased")
    local = lambda f: set(f["created_at"].dt.tz_convert(CST).dt.date.astype(str))  # noqa: E731
    assert local(w.holdout) == set(manifest["holdout_days"])
    assert not local(w.tables["interactions"]) & set(manifest["holdout_days"])
    assert [len(run) for run in w.holdout_windows] == [2, 3, 2]
