"""The learned scorer: additive reasons, the weighted fallback, the features it reads."""

from __future__ import annotations

import numpy as np
import pytest

from quanzi.models.ranker import LinearRanker
from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.hydrators.viewer_relation_hydrator import ViewerRelationHydrator
from quanzi.models.ranking.params import RankingParams
from quanzi.models.ranking.pipeline import RankingPipeline
from quanzi.models.ranking.query import ViewerContext
from quanzi.models.ranking.ranker_features import FEATURES, ranker_features
from quanzi.models.ranking.scorers.learned_scorer import LearnedScorer
from quanzi.models.ranking.scorers.weighted_scorer import WeightedScorer

LEARNED = RankingParams(scorer="learned")


def _ranker(seed: int = 0, features: tuple[str, ...] = FEATURES) -> LinearRanker:
    rng = np.random.default_rng(seed)
    f = len(features)
    return LinearRanker(
        features=features,
        mean=rng.normal(size=f),
        scale=rng.uniform(0.5, 2.0, size=f),
        weights=rng.normal(size=f),
    )


def _hydrated(store, query) -> CandidateSet:
    candidates = CandidateSet.from_ids(list(store.rows))
    store.hydrate(candidates)
    ViewerRelationHydrator().hydrate(query, store, candidates)
    return candidates


def _social(store, query_factory):
    """A viewer with a friend (u_friend) who follows u_stranger, and the hydrated circle."""
    viewer = ViewerContext(
        viewer_id="v1", friends=frozenset({"u_friend"}), follows=frozenset({"u_stranger"})
    )
    query = query_factory(viewer, params=LEARNED)
    return query, _hydrated(store, query)


def test_learned_contributions_sum_to_the_score(store, query_factory) -> None:
    query = query_factory(params=LEARNED)
    scored = LearnedScorer(_ranker()).score(query, _hydrated(store, query))
    assert set(scored.contributions) == set(FEATURES) | {"content_type"}
    total = np.sum(np.stack(list(scored.contributions.values())), axis=0)
    np.testing.assert_allclose(total, scored.scores, rtol=1e-5, atol=1e-5)
    assert np.ptp(scored.scores) > 0


def test_served_reasons_are_the_rankers_largest_contributions(store, query_factory) -> None:
    ranker = _ranker(seed=3)
    result = RankingPipeline.default(ranker=lambda: ranker).rank(
        query_factory(params=LEARNED), store
    )
    assert result.items
    names = set(ranker.features)
    for item in result.items:
        assert item.reasons and {f for f, _ in item.reasons} <= names
    ranker.version = "7"
    again = RankingPipeline.default(ranker=lambda: ranker).rank(
        query_factory(params=LEARNED), store
    )
    assert again.scorer == "learned-v7"  # the feed response's model_versions.ranker


def test_without_a_ranker_learned_falls_back_to_the_weighted_scorer(store, query_factory) -> None:
    query = query_factory(params=LEARNED)
    candidates = _hydrated(store, query)
    fallback = LearnedScorer(lambda: None).score(query, candidates)
    weighted = WeightedScorer().score(query, candidates)
    np.testing.assert_array_equal(fallback.scores, weighted.scores)
    assert "freshness" in fallback.contributions
    assert fallback.scorer == "weighted-v1"


def test_weighted_param_ignores_a_loaded_ranker(store, query_factory) -> None:
    query = query_factory(params=RankingParams(scorer="weighted"))
    candidates = _hydrated(store, query)
    scored = LearnedScorer(_ranker()).score(query, candidates)
    np.testing.assert_array_equal(scored.scores, WeightedScorer().score(query, candidates).scores)


def test_follow_and_friend_features_come_from_the_viewer_context(store, query_factory) -> None:
    query, candidates = _social(store, query_factory)
    rows = ranker_features(query, candidates)
    ids = list(candidates.post_ids)
    follow, friend = FEATURES.index("follow"), FEATURES.index("friend")
    assert rows[ids.index("p_stranger"), follow] == 1.0
    assert rows[ids.index("p_friend"), follow] == 0.0
    assert rows[ids.index("p_friend"), friend] == 1.0


def test_age_rank_puts_the_newest_candidate_first(store, query_factory) -> None:
    query = query_factory(params=LEARNED)
    candidates = _hydrated(store, query)
    rank = ranker_features(query, candidates)[:, FEATURES.index("age_rank")]
    newest = int(np.argmax(candidates.cols["created_ts"]))
    oldest = int(np.argmin(candidates.cols["created_ts"]))
    assert rank[newest] == 0.0 and rank[oldest] == rank.max() > 0


def test_a_ranker_on_log_age_serves_the_newest_posts_first(store, query_factory) -> None:
    older_is_worse = LinearRanker(
        features=("log_age",), mean=np.zeros(1), scale=np.ones(1), weights=-np.ones(1)
    )
    result = RankingPipeline.default(ranker=lambda: older_is_worse).rank(
        query_factory(params=LEARNED.model_copy(update={"mmr_lambda": 1.0})), store
    )
    created = {pid: store.rows[pid]["created_ts"] for pid in store.rows}
    served = [created[it.post_id] for it in result.items]
    assert served == sorted(served, reverse=True)


def test_ranker_round_trips_through_json_and_refuses_unknown_features(tmp_path) -> None:
    ranker = _ranker(seed=1, features=("log_age", "follow", "engagement"))
    ranker.save(tmp_path / "r")
    loaded = LinearRanker.load(tmp_path / "r")
    rows = np.random.default_rng(0).normal(size=(4, len(FEATURES)))
    np.testing.assert_allclose(loaded.score(rows), ranker.score(rows))
    with pytest.raises(ValueError, match="features this code does not build"):
        LinearRanker(features=("nope",), mean=np.zeros(1), scale=np.ones(1), weights=np.ones(1))
    with pytest.raises(FileNotFoundError):
        LinearRanker.load(tmp_path / "missing")


def test_interaction_features_are_products_of_their_parts(store, query_factory) -> None:
    query = query_factory(params=LEARNED)
    rows = ranker_features(query, _hydrated(store, query))
    col = {name: rows[:, FEATURES.index(name)] for name in FEATURES}
    np.testing.assert_allclose(col["quality_x_fresh"], col["quality"] * col["fresh_24h"])
    np.testing.assert_allclose(col["engagement_x_fresh"], col["engagement"] * col["fresh_24h"])
    np.testing.assert_allclose(col["engagement_x_age"], col["engagement"] * col["log_age"])
    np.testing.assert_allclose(col["top_rank"], np.exp(-col["age_rank"]))  # 1 / (1 + rank)
    # a fresh post's quality counts for more than an old one's (the 40-day-old post ≈ 0)
    assert col["quality_x_fresh"].max() > 0.3 and col["quality_x_fresh"].min() < 1e-6


def test_a_feature_subset_equals_those_columns_of_all_features(store, query_factory) -> None:
    """Serving computes only the model's features; training records all of them."""
    query, candidates = _social(store, query_factory)
    full = ranker_features(query, candidates)
    for subset in (
        ("engagement_x_age", "follow", "log_age"),
        ("quality_x_fresh",),
        ("top_rank", "phase", "trust", "interest"),
        FEATURES[::-1],
    ):
        part = ranker_features(query, candidates, subset)
        np.testing.assert_array_equal(part, full[:, [FEATURES.index(f) for f in subset]])
    with pytest.raises(ValueError, match="unknown ranker features"):
        ranker_features(query, candidates, ("nope",))
