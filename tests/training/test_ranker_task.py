"""The learned ranker's training on a tiny world: train/serve parity, and it learns."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from quanzi.models.ranker import LinearRanker
from quanzi.models.ranking.offline.metrics import ndcg_at_k
from quanzi.models.ranking.offline.replay import eligible_split, rank_pipeline
from quanzi.models.ranking.params import RankingParams
from quanzi.models.ranking.pipeline import RankingPipeline
from quanzi.models.ranking.ranker_features import FEATURES
from quanzi.settings import Settings
from quanzi.training.evaluators.ranker_evaluator import evaluate_days
from quanzi.training.tasks_impl.ranker_config import RankerConfig
from quanzi.training.tasks_impl.ranker_data import RankerData, load_ranker_data
from quanzi.training.tasks_impl.ranker_fit import choose_and_fit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> RankerData:
    from quanzi.datasets.world.build import build_world

    settings = Settings(data_dir=tmp_path_factory.mktemp("ranker-world"), env="test")
    folder = build_world(settings, 400, 3, name="tiny", progress=False)
    shutil.rmtree(folder / "hidden")  # training must never need the hidden truth
    return load_ranker_data(settings, RankerConfig(world="tiny").small())


def test_training_rows_are_the_features_the_served_scorer_sees(tiny: RankerData) -> None:
    frame, split = tiny.test.frame, tiny.test.splits[0]
    for k, req in enumerate(split.requests[:5]):
        rows = frame[frame["req"] == k].set_index("post_id")
        for feature in (
            "log_age",
            "age_rank",
            "engagement",
            "interest",
            "follow",
            "trust",
            "content_phase",
            "silent_x_engagement",
            "norel_x_quality",
            "active_x_fresh",
        ):
            one = LinearRanker(
                features=(feature,), mean=np.zeros(1), scale=np.ones(1), weights=np.ones(1)
            )
            pipeline = RankingPipeline.default(ranker=lambda one=one: one)
            pipeline.selectors = []
            served = pipeline.rank(_query(req, split), split.store)
            got = {it.post_id: it.score for it in served.items}
            assert set(got) == set(rows.index)
            for pid, value in got.items():
                assert value == pytest.approx(rows.at[pid, feature], rel=1e-5, abs=1e-5)


def _query(req, split):
    from quanzi.models.ranking.params import campaign_phase
    from quanzi.models.ranking.query import FeedQuery

    return FeedQuery(
        viewer=split.contexts[req.viewer_id],
        circle_id=req.circle_id,
        limit=len(req.candidates),
        now=req.now,
        phase=campaign_phase(req.now),
        # the content-type term off: the served score is then the one feature alone
        params=RankingParams(scorer="learned", w_content_type=0.0),
        candidate_ids=tuple(req.candidates),
        exclude_seen=False,
    )


def test_training_never_sees_held_out_or_dev_days(tiny: RankerData) -> None:
    train, dev, test = (set(tiny.days[k]) for k in ("train", "dev", "test"))
    assert not (train & dev) and not (train & test) and not (dev & test)
    assert tiny.days["test"] == list(tiny.world.manifest["holdout_days"])
    assert max(tiny.days["train"]) < min(tiny.days["dev"]) < min(tiny.days["test"])
    assert set(tiny.train.frame.columns) >= {"req", "post_id", "rel", "position", *FEATURES}


def test_a_ranker_trained_on_a_tiny_world_beats_a_random_order_on_its_held_out_days(
    tiny: RankerData,
) -> None:
    ranker, trials = choose_and_fit(tiny, RankerConfig().small())
    assert trials and ranker.config["objective"] == "pairwise"
    learned = evaluate_days(tiny.test, ranker)["all"]["learned"]
    rng = np.random.default_rng(0)
    random_scores = []
    eligible = [r for split in tiny.test.splits for r in eligible_split(split).requests]
    for _ in range(20):
        values = []
        for req in eligible:  # the same candidate sets the learned ranker ordered
            order = rng.permutation(len(req.candidates))
            v = ndcg_at_k([req.relevance[req.candidates[i]] for i in order])
            if v is not None:
                values.append(v)
        random_scores.append(np.mean(values))
    assert learned > float(np.mean(random_scores)) + 0.05


def test_a_ranker_that_prefers_old_posts_loses_to_recency(tiny: RankerData) -> None:
    """The evaluation can tell a bad ranker from a good one (so the test above can fail)."""
    backwards = LinearRanker(
        features=("log_age",), mean=np.zeros(1), scale=np.ones(1), weights=np.ones(1)
    )
    summary = evaluate_days(tiny.test, backwards)["all"]
    assert summary["learned"] < summary["recency"]
    assert summary["gain_vs_recency_hi"] < 0  # and the interval says it is not noise
    split = tiny.test.splits[0]
    req = split.requests[0]
    ranked = rank_pipeline(
        req,
        split.contexts[req.viewer_id],
        split.store,
        RankingParams(scorer="learned"),
        RankingPipeline.default(ranker=lambda: backwards),
    )
    assert sorted(ranked) == sorted(req.candidates)


def test_both_protocols_score_the_same_requests_for_every_method(tiny: RankerData) -> None:
    newest = LinearRanker(
        features=("log_age",), mean=np.zeros(1), scale=np.ones(1), weights=-np.ones(1)
    )
    eligible = evaluate_days(tiny.test, newest)["all"]
    unfiltered = evaluate_days(tiny.test, newest, protocol="unfiltered")["all"]
    assert eligible["requests"] <= unfiltered["requests"] == len(tiny.test.requests)
    # newest-first through the pipeline is recency on the eligible set (the author cap aside)
    assert eligible["learned"] == pytest.approx(eligible["recency"], abs=0.03)
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate_days(tiny.test, newest, protocol="filtered-last")


def test_eligible_days_from_the_feature_pass_equal_running_the_filters_again(
    tiny: RankerData,
) -> None:
    for days in (tiny.train, tiny.dev, tiny.test):
        assert len(days.eligible) == len(days.splits)
        for built, split in zip(days.eligible, days.splits, strict=True):
            again = eligible_split(split)
            assert [(r.viewer_id, r.candidates) for r in built.requests] == [
                (r.viewer_id, r.candidates) for r in again.requests
            ]
            assert built.filtered_share == again.filtered_share


@pytest.fixture(scope="module")
def tiny_explore(tmp_path_factory: pytest.TempPathFactory) -> RankerData:
    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig

    settings = Settings(data_dir=tmp_path_factory.mktemp("ranker-explore"), env="test")
    build_world(
        settings, 400, 3, name="tiny-x50", progress=False, config=WorldConfig(explore_fraction=0.5)
    )
    return load_ranker_data(settings, RankerConfig(world="tiny-x50").small())


def test_exploration_rows_are_the_random_order_requests(tiny_explore: RankerData) -> None:
    assert tiny_explore.explores
    for days in (tiny_explore.train, tiny_explore.dev, tiny_explore.test):
        rows = days.explore_rows()
        policy = np.array([r.policy for r in days.requests])[days.frame["req"]]
        assert (rows == (policy == "random")).all()
        assert 0 < rows.sum() < len(rows)


def test_dev_choice_on_an_exploring_world_scores_exploration_requests_only(
    tiny_explore: RankerData,
) -> None:
    from quanzi.training.evaluators.ranker_evaluator import ranker_metrics
    from quanzi.training.tasks_impl.ranker_fit import Choice, fit_ranker, frame_ndcg

    ranker, trials = choose_and_fit(tiny_explore, RankerConfig().small())
    assert {t["train_set"] for t in trials} == {"all", "explore"}
    assert ranker.config["dev_requests"] == "exploration"
    assert ranker.config["dev_ndcg10"] == max(t["dev_ndcg10"] for t in trials)
    # Recompute one trial by hand: trained on the exploration rows, scored on the dev
    # days' exploration rows only.
    trial = next(t for t in trials if t["train_set"] == "explore")
    choice = Choice(**{k: trial[k] for k in ("objective", "C", "ipw", "feature_set", "train_set")})
    train = tiny_explore.train.frame[tiny_explore.train.explore_rows()]
    dev = tiny_explore.dev.frame[tiny_explore.dev.explore_rows()]
    refit = fit_ranker(train, choice, tiny_explore.propensity)
    score = frame_ndcg(
        dev, tiny_explore.dev.requests, refit.score(dev[list(FEATURES)].to_numpy(dtype=np.float64))
    )
    assert score == pytest.approx(trial["dev_ndcg10"])
    metrics, _ = ranker_metrics(ranker, tiny_explore)
    assert 0 < metrics["test_explore_requests"] < metrics["test_requests"]
    assert 0 < metrics["dev_explore_requests"] < metrics["dev_requests"]
    assert "test_explore_gain_vs_popularity" in metrics


@pytest.fixture(scope="module")
def tiny_phased(tmp_path_factory: pytest.TempPathFactory) -> RankerData:
    from quanzi.datasets.world.build import build_world
    from quanzi.datasets.world.config import WorldConfig

    settings = Settings(data_dir=tmp_path_factory.mktemp("ranker-phased"), env="test")
    cfg = WorldConfig(holdout_per_phase=1)  # held out: 10-31, 11-10, 11-11, 11-25
    build_world(settings, 400, 3, name="tiny-phased", progress=False, config=cfg)
    return load_ranker_data(settings, RankerConfig(world="tiny-phased").small())


def test_a_per_phase_world_trains_on_no_held_out_day_and_tests_each_phase(
    tiny_phased: RankerData,
) -> None:
    held = set(tiny_phased.world.manifest["holdout_days"])
    days = tiny_phased.days
    assert held == {"2026-10-31", "2026-11-10", "2026-11-11", "2026-11-25"}
    assert not (set(days["train"]) | set(days["dev"])) & held
    assert days["dev"] == ["2026-11-22", "2026-11-23", "2026-11-24"]  # before the last run
    assert set(days["test"]) == held
    # every request of the test side is a held-out day's, each phase has some, and each
    # run's store is cut at the run's own first day (11-10 and 11-11 share one)
    phases = {seg for r in tiny_phased.test.requests for seg in r.segments if "phase:" in seg}
    assert phases == {"phase:seeding", "phase:preheat", "phase:peak", "phase:after_sales"}
    stores = [s.store for s in tiny_phased.test.splits]
    assert stores[1] is stores[2] and len({id(s) for s in stores}) == 3
