"""Offline ranking evaluation: the metric by hand, the request protocol, a tiny world end to end."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from quanzi.evaluation.ranking_eval import EvalConfig, run_eval
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.feed_store import InMemoryFeedStore
from quanzi.models.ranking.offline.metrics import (
    ndcg_at_k,
    paired_difference,
    position_propensity,
)
from quanzi.models.ranking.offline.replay import Split, eligible_split, evaluate_split
from quanzi.models.ranking.offline.requests import EvalRequest, make_requests
from quanzi.models.ranking.params import RankingParams, campaign_phase
from quanzi.models.ranking.query import ViewerContext
from quanzi.settings import Settings

T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in China


def test_ndcg_matches_a_hand_computed_example() -> None:
    # ranked relevances 3, 0, 2, 1 → DCG = 7/log2(2) + 0 + 3/log2(4) + 1/log2(5)
    dcg = 7 / 1 + 3 / 2 + 1 / math.log2(5)
    idcg = 7 / 1 + 3 / math.log2(3) + 1 / 2
    assert ndcg_at_k([3, 0, 2, 1]) == pytest.approx(dcg / idcg)
    assert ndcg_at_k([3, 2, 1, 0]) == pytest.approx(1.0)
    assert ndcg_at_k([0, 0, 0, 3], k=3) == 0.0  # the only relevant item is cut off at k


def test_ndcg_is_undefined_without_relevant_items_and_weights_change_the_ideal() -> None:
    assert ndcg_at_k([0, 0]) is None
    # weighted gains: item 2 (rel 1, weight 10) is worth more than item 1 (rel 2, weight 1)
    assert ndcg_at_k([2, 1], weights=[1.0, 10.0]) < 1.0
    assert ndcg_at_k([1, 2], weights=[10.0, 1.0]) == pytest.approx(1.0)


def _log(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """(user, post, kind, minutes after T0, position) rows → an interactions frame."""
    return pd.DataFrame(
        {
            "id": range(1, len(rows) + 1),
            "user_id": [r[0] for r in rows],
            "post_id": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "created_at": pd.to_datetime([T0 + timedelta(minutes=r[3]) for r in rows]),
            "position": [r[4] for r in rows],
            "request_id": "r",
        }
    )


POSTS = pd.DataFrame({"id": ["a", "b", "c", "d"], "circle_id": ["c1"] * 4})


def test_requests_are_viewer_days_graded_by_the_strongest_action() -> None:
    log = _log(
        [
            ("v", "a", "impression", 0, 0),
            ("v", "b", "impression", 0, 1),
            ("v", "c", "impression", 0, 2),
            ("v", "b", "click", 1, 1),
            ("v", "b", "share", 2, 1),
            ("v", "c", "click", 1, 2),
            ("v", "c", "hide", 3, 2),
            ("v", "d", "impression", 60 * 24, 0),
            ("v", "a", "impression", 60 * 24, 1),
            ("w", "a", "impression", 0, 0),
            ("w", "b", "impression", 0, 1),  # nothing clicked
        ]
    )
    kinds = {("v", "c1"): frozenset({"fan", "past_buyer"})}
    requests = make_requests(log, POSTS, {"v": {"x"}}, {("v", "c1"): False}, None, kinds)
    assert len(requests) == 1  # v's 2nd day and w have no relevant post
    req = requests[0]
    assert req.candidates == ["a", "b", "c"]
    assert req.relevance == {"a": 0, "b": 3, "c": 1}
    assert req.position == {"a": 0, "b": 1, "c": 2}
    phase = f"phase:{campaign_phase(req.now)}"
    assert req.segments == ("some-friends", "silent", "fan", "past-buyer", phase)


def test_position_propensity_falls_with_position() -> None:
    rows = [("v", "a", "impression", 0, p) for p in range(3) for _ in range(100)]
    rows += (
        [("v", "a", "click", 0, 0)] * 30
        + [("v", "a", "click", 0, 1)] * 10
        + [("v", "a", "click", 0, 2)] * 5
    )
    prop = position_propensity(_log(rows), max_position=3)
    assert prop[0] == 1.0 and prop[2] < prop[1] < 0.5
    assert prop[1] == pytest.approx(11 / 31)  # (clicks + 1) / (impressions + 20), relative


def test_pipeline_beats_recency_when_the_friend_signal_decides() -> None:
    store = InMemoryFeedStore()
    now = T0 + timedelta(hours=1)
    for pid, age_h, author in (("new", 1, "stranger"), ("old", 20, "friend")):
        store.add(
            pid,
            circle_id="c1",
            author_id=author,
            status="pass",
            base_level=3,
            quality=0.5,
            created_ts=(now - timedelta(hours=age_h)).timestamp(),
        )
    req = EvalRequest(
        "v",
        "c1",
        now,
        ["new", "old"],
        {"new": 0, "old": 2},
        {"new": 0, "old": 1},
        ("some-friends", "active"),
    )
    ctx = ViewerContext(viewer_id="v", friends=frozenset({"friend"}))
    split = Split([req], store, {"v": ctx}, np.ones(5))  # type: ignore[arg-type]
    params = RankingParams(w_freshness=0.5)
    assert evaluate_split(split, params, methods=("pipeline",))["pipeline"] == [1.0]
    fresh_only = RankingParams(w_trust=0.0, w_freshness=3.0)
    assert evaluate_split(split, fresh_only, methods=("pipeline",))["pipeline"][0] < 1.0


def _snapshot(posts: list[tuple[str, float, str, int]]) -> SnapshotFeedStore:
    """(id, age in hours before T0 + 1 h, status, base level) → a snapshot store."""
    now = T0 + timedelta(hours=1)
    store = SnapshotFeedStore()
    store.upsert_posts(
        pd.DataFrame(
            {
                "id": [p[0] for p in posts],
                "author_id": [f"author-{p[0]}" for p in posts],
                "circle_id": "c1",
                "status": [p[2] for p in posts],
                "quality": 0.5,
                "tier": 2,
                "base_level": [p[3] for p in posts],
                "created_ts": [(now - timedelta(hours=p[1])).timestamp() for p in posts],
            }
        )
    )
    store.circles = frozenset({"c1"})
    return store


def _request(viewer: str, relevance: dict[str, int]) -> EvalRequest:
    ids = list(relevance)  # shown order
    return EvalRequest(
        viewer,
        "c1",
        T0 + timedelta(hours=1),
        ids,
        relevance,
        {p: i for i, p in enumerate(ids)},
        ("friendless", "active"),
    )


def test_eligible_protocol_ranks_only_what_the_policy_filters_keep_for_every_method() -> None:
    # newest first: the rejected ad (relevant: users click disguised ads), then two passed
    # posts; the disguised-ad level L6 is dropped by the trust-level filter.
    store = _snapshot(
        [
            ("ad", 1, "reject", 4),
            ("l6", 2, "pass", 6),
            ("new", 3, "pass", 3),
            ("old", 30, "pass", 3),
        ]
    )
    clicked_ad = _request("v", {"ad": 3, "l6": 2, "new": 0, "old": 1})
    only_ad = _request("w", {"ad": 2, "l6": 0, "new": 0, "old": 0})
    ctx = {v: ViewerContext(viewer_id=v) for v in ("v", "w")}
    full = Split([clicked_ad, only_ad], store, ctx, np.ones(5))
    eligible = eligible_split(full)
    assert [r.candidates for r in eligible.requests] == [["new", "old"]]  # w: none relevant
    assert eligible.filtered_share == pytest.approx(4 / 8)
    ndcg = evaluate_split(eligible, RankingParams(), methods=("pipeline", "recency"))
    # same set, ideal over that set: newest-first (new, old) scores 1/log2(3) of the ideal
    assert ndcg["recency"] == [pytest.approx(1 / math.log2(3))]
    unfiltered = evaluate_split(full, RankingParams(), methods=("pipeline", "recency"))
    # the unfiltered view credits recency for the rejected ad the service would never serve
    assert unfiltered["recency"][0] > ndcg["recency"][0] > unfiltered["pipeline"][0]


def _tiny(
    tmp_path_factory: pytest.TempPathFactory, name: str, explore_fraction: float = 0.0
) -> tuple[Settings, str]:
    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig

    settings = Settings(data_dir=tmp_path_factory.mktemp(f"eval-{name}"), env="test")
    folder = build_world(
        settings,
        300,
        5,
        name=name,
        progress=False,
        config=WorldConfig(explore_fraction=explore_fraction),
    )
    shutil.rmtree(folder / "hidden")  # the evaluation must never need the hidden truth
    return settings, name


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    return _tiny(tmp_path_factory, "tiny")


def test_eval_on_a_tiny_world_reports_every_method_and_segment(tiny_world) -> None:
    settings, name = tiny_world
    no_models = SimpleNamespace(predictors={}, versions={}, embedder=None)
    report = run_eval(
        settings, EvalConfig(world=name, tune_trials=1, embedding_dim=8), models=no_models
    )
    assert report.hidden_truth_used is False
    assert report.test["all"]["requests"] > 10
    for method in ("pipeline", "pipeline-tuned", "recency", "popularity"):
        assert 0.0 < report.test["all"][method] <= 1.0
        assert 0.0 < report.test_debiased["all"][method] <= 1.0
    segs = report.test
    assert (
        segs["friend-rich"]["requests"]
        + segs["some-friends"]["requests"]
        + segs["friendless"]["requests"]
        == segs["all"]["requests"]
    )
    assert "fallback" in report.sources["quality"] and "fallback" in report.sources["embeddings"]
    assert len(report.trials) == 3 and report.dev_days and report.tuned_params
    # the unfiltered view keeps every request; the eligible one drops some, never adds
    assert report.test_unfiltered["all"]["requests"] >= report.test["all"]["requests"]
    assert 0.0 <= report.filtered_share < 1.0
    assert 0.0 < report.test_unfiltered["all"]["pipeline-tuned"] <= 1.0


def test_eval_uses_a_learned_ranker_only_if_trained_before_the_held_out_days() -> None:
    from quanzi.evaluation.ranking_eval import usable_ranker

    world = SimpleNamespace(name="w", manifest={"holdout_days": ["2026-11-23", "2026-11-24"]})
    ok = SimpleNamespace(
        version="3", config={"world": "w", "train_days": ["2026-11-10"], "dev_days": ["2026-11-22"]}
    )
    assert usable_ranker(ok, world)[0] is ok
    assert "no held-out day" in usable_ranker(ok, world)[1]
    leaky = SimpleNamespace(config={**ok.config, "dev_days": ["2026-11-23"]})
    other = SimpleNamespace(config={**ok.config, "world": "elsewhere"})
    for ranker in (leaky, other, None):
        assert usable_ranker(ranker, world)[0] is None
    # a per-phase world holds out runs of days between training days: days after an
    # earlier held-out run are fine, any held-out day is not
    phased = SimpleNamespace(name="w", manifest={"holdout_days": ["2026-11-09", "2026-11-24"]})
    assert usable_ranker(ok, phased)[0] is ok
    inside = SimpleNamespace(config={**ok.config, "train_days": ["2026-11-09", "2026-11-10"]})
    assert usable_ranker(inside, phased)[0] is None


def test_paired_difference_interval_is_tight_for_a_constant_gain_and_wide_for_noise() -> None:
    reqs = [_request(f"v{i}", {"a": 1, "b": 0}) for i in range(40)]
    for i, r in enumerate(reqs[:10]):
        r.segments = ("friendless" if i % 2 else "friend-rich", "active")
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.7, 40).tolist()
    constant = paired_difference(reqs, {"x": [b + 0.1 for b in base], "y": base}, "x", "y")
    gain, lo, hi = constant["all"]
    assert gain == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    noisy = paired_difference(reqs, {"x": rng.uniform(0, 1, 40).tolist(), "y": base}, "x", "y")
    gain, lo, hi = noisy["all"]
    assert lo < gain < hi and hi - lo > 0.1
    assert set(noisy) == {"all", "friendless", "friend-rich", "active"}


def test_requests_carry_the_logged_policy_of_their_impressions() -> None:
    log = _log(
        [
            ("v", "a", "impression", 0, 0),
            ("v", "b", "impression", 0, 1),
            ("v", "b", "click", 1, 1),
            ("w", "a", "impression", 0, 0),
            ("w", "b", "impression", 0, 1),
            ("w", "a", "click", 1, 0),
        ]
    )
    log["request_id"] = log["user_id"].map({"v": "r1", "w": "r2"})
    requests = make_requests(log, POSTS, {}, {}, {"r1": "random", "r2": "newest"})
    assert {r.viewer_id: r.policy for r in requests} == {"v": "random", "w": "newest"}
    # without a request log (a world without a bucket) every request was newest first
    assert {r.policy for r in make_requests(log, POSTS, {}, {})} == {"newest"}
    # policy survives the eligible-set restriction
    from quanzi.models.ranking.offline.replay import restrict

    kept = restrict(requests[0], ["a", "b"])
    assert kept is not None and kept.policy == "random"


def test_exploration_table_counts_and_averages_only_exploration_requests() -> None:
    from quanzi.models.ranking.offline.metrics import exploration_only, summarise

    reqs = [_request(f"v{i}", {"a": 1, "b": 0}) for i in range(6)]
    for r in reqs[::2]:
        r.policy = "random"
    ndcg = {"learned": [0.9, 0.1, 0.8, 0.1, 0.7, None], "recency": [0.5] * 6}
    sub, sub_ndcg = exploration_only(reqs, ndcg)
    assert [r.viewer_id for r in sub] == ["v0", "v2", "v4"]
    table = summarise(sub, sub_ndcg)
    assert table["all"]["requests"] == 3 and table["friendless"]["requests"] == 3
    assert table["all"]["learned"] == pytest.approx(0.8)  # the newest-first 0.1s left out
    assert table["all"]["recency"] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def tiny_explore_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    return _tiny(tmp_path_factory, "tiny-x50", explore_fraction=0.5)


def test_eval_reports_the_exploration_requests_as_the_headline(tiny_explore_world) -> None:
    from quanzi.datasets.world.tables import circle_activity, friends_of, read_world

    settings, name = tiny_explore_world
    no_models = SimpleNamespace(predictors={}, versions={}, embedder=None)
    report = run_eval(
        settings, EvalConfig(world=name, tune_trials=1, embedding_dim=8), models=no_models
    )
    world = read_world(settings, name)
    logged = make_requests(
        world.holdout,
        world.tables["posts"],
        friends_of(world),
        circle_activity(world),
        world.policy,
    )
    n_random = sum(r.policy == "random" for r in logged)
    explore, everything = report.test_explore["all"], report.test["all"]
    assert 0 < explore["requests"] <= n_random < len(logged)
    assert explore["requests"] < everything["requests"]
    assert report.explore_fraction == 0.5 and report.dev_requests == "exploration"
    assert {"pipeline-tuned − recency", "pipeline-tuned − popularity", "pipeline − recency"} <= set(
        report.gains_explore
    )
    gain, lo, hi = report.gains_explore["pipeline − popularity"]["all"]
    assert gain == pytest.approx(explore["pipeline"] - explore["popularity"]) and lo <= gain <= hi


def test_markdown_table_has_a_row_per_segment_with_requests_and_the_gain() -> None:
    from quanzi.evaluation.ranking_eval import markdown_table

    row = {"pipeline": 0.5, "learned": 0.6, "recency": 0.55, "popularity": 0.4}
    report = {
        "test": {},
        "gains": {},
        "test_explore": {
            "all": {"requests": 9, **row},
            "phase:after_sales": {"requests": 4, **row},
            "phase:peak": {"requests": 0, **row},
        },
        "gains_explore": {"learned − recency": {"all": (0.05, -0.01, 0.1)}},
    }
    lines = markdown_table(report).splitlines()
    assert lines[0].startswith("| segment | requests | pipeline (defaults) | learned |")
    assert (
        lines[2]
        == "| all | 9 | 0.5000 | **0.6000** | 0.5500 | 0.4000 | +0.0500 [−0.0100, +0.1000] |"
    )
    assert lines[3].startswith("| phase: after-sales | 4 |") and lines[3].endswith("| – |")
    assert len(lines) == 4  # no row for a phase without requests
