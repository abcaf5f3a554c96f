"""The exploration bucket: a logged, deterministic share of requests shown in random order."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from quanzi.datasets.world.build import (
    REQUESTS_FILE,
    REQUESTS_HOLDOUT_FILE,
    build_world,
    default_name,
    sha256_file,
)
from quanzi.datasets.world.config import WorldConfig
from quanzi.settings import Settings

from .conftest import POSTS, SEED

FRACTION = 0.3


@pytest.fixture(scope="module")
def explored(world_settings: Settings, world: Path) -> Path:
    """The shared test world's seed and size, with a 30 % exploration bucket."""
    return build_world(
        world_settings, POSTS, SEED, config=WorldConfig(explore_fraction=FRACTION), progress=False
    )


def _requests(folder: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(folder / REQUESTS_FILE), pd.read_parquet(folder / REQUESTS_HOLDOUT_FILE)],
        ignore_index=True,
    )


def _impressions(folder: Path) -> pd.DataFrame:
    inter = pd.concat(
        [
            pd.read_parquet(folder / "interactions.parquet"),
            pd.read_parquet(folder / "eval/interactions_holdout.parquet"),
        ]
    )
    imp = inter[inter["kind"] == "impression"]
    created = pd.read_parquet(folder / "posts.parquet").set_index("id")["created_at"]
    return imp.assign(post_created=imp["post_id"].map(created))


def test_explore_world_is_named_after_its_share_and_logs_every_request(explored: Path) -> None:
    assert explored.name == default_name(POSTS, SEED, FRACTION) == f"p{POSTS}-s{SEED}-x30"
    requests = _requests(explored)
    manifest = json.loads((explored / "manifest.json").read_text())
    assert len(requests) == manifest["stats"]["interactions"]["requests"]
    assert requests["request_id"].is_unique
    assert set(requests["policy"]) == {"newest", "random"}
    share = (requests["policy"] == "random").mean()
    assert abs(share - FRACTION) < 0.05, share  # ~2,700 requests: 4 standard errors
    # Every impression's request is in the log, held-out ones in the held-out log.
    held = pd.read_parquet(explored / "eval/interactions_holdout.parquet")
    assert set(held["request_id"]) <= set(
        pd.read_parquet(explored / REQUESTS_HOLDOUT_FILE)["request_id"]
    )


def test_explore_assignment_is_deterministic_for_a_seed(
    explored: Path, world_settings: Settings
) -> None:
    cfg = WorldConfig(explore_fraction=FRACTION)
    again = build_world(
        world_settings, POSTS, SEED, name="explore-again", config=cfg, progress=False
    )
    for f in (REQUESTS_FILE, REQUESTS_HOLDOUT_FILE, "interactions.parquet"):
        assert sha256_file(again / f) == sha256_file(explored / f)
    other = build_world(world_settings, POSTS, SEED + 1, config=cfg, progress=False)
    assert sha256_file(other / REQUESTS_FILE) != sha256_file(explored / REQUESTS_FILE)


def test_random_requests_are_not_shown_newest_first_while_the_others_are(explored: Path) -> None:
    imp = _impressions(explored).merge(
        _requests(explored)[["request_id", "policy"]], on="request_id"
    )
    imp = imp.sort_values(["request_id", "position"])
    newest_first = imp.groupby("request_id")["post_created"].apply(
        lambda c: c.is_monotonic_decreasing
    )
    policy = imp.groupby("request_id")["policy"].first()
    size = imp.groupby("request_id").size()
    long_ = size >= 4  # a random order of >= 4 posts is newest first with p <= 1/24
    assert newest_first[policy == "newest"].all()
    assert newest_first[(policy == "random") & long_].mean() < 0.15
    # And position is uncorrelated with age within random requests (mean rank correlation
    # ~ 0; it is exactly 1 on newest-first requests).
    rnd = imp[(imp["policy"] == "random") & imp["request_id"].map(size).ge(3)]
    corr = (
        rnd.groupby("request_id")
        .apply(
            lambda g: g["position"].corr(g["post_created"].rank(ascending=False), method="spearman")
        )
        .mean()
    )
    assert abs(corr) < 0.1, corr


def test_no_bucket_world_has_no_request_log_and_unchanged_config(world: Path) -> None:
    assert not (world / REQUESTS_FILE).exists()
    assert not (world / REQUESTS_HOLDOUT_FILE).exists()
    assert "requests" not in json.loads((world / "manifest.json").read_text())
    assert "explore_fraction" not in json.loads((world / "hidden/config.json").read_text())


def test_bucket_reorders_only_its_requests_and_changes_nothing_else(
    world: Path, explored: Path
) -> None:
    """The bucket draws from its own random stream: every other table is byte-identical to
    the world without it, and the newest-first requests log exactly the same events."""
    for t in ("users", "user_relations", "brand_relations", "items", "orders", "posts"):
        assert sha256_file(world / f"{t}.parquet") == sha256_file(explored / f"{t}.parquet")
    requests = _requests(explored)
    newest = set(requests.loc[requests["policy"] == "newest", "request_id"])
    cols = ["user_id", "post_id", "kind", "position", "request_id", "created_at"]
    for f in ("interactions.parquet", "eval/interactions_holdout.parquet"):
        base = pd.read_parquet(world / f)
        new = pd.read_parquet(explored / f)
        a = base[base["request_id"].isin(newest)][cols].reset_index(drop=True)
        b = new[new["request_id"].isin(newest)][cols].reset_index(drop=True)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)
    # The random requests show the same posts, in another order.
    rnd = set(requests.loc[requests["policy"] == "random", "request_id"])
    shown = []
    for folder in (world, explored):
        imp = _impressions(folder)
        shown.append(
            imp[imp["request_id"].isin(rnd)].groupby("request_id")["post_id"].apply(frozenset)
        )
    assert len(shown[0]) > 0 and shown[0].equals(shown[1])


def test_explore_fraction_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="explore_fraction"):
        WorldConfig(explore_fraction=1.5)
