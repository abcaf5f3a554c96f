"""The ranking pipeline end to end on an in-memory circle, and each stage on its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.filters.age_filter import AgeFilter
from quanzi.models.ranking.filters.moderation_filter import ModerationFilter
from quanzi.models.ranking.filters.negative_feedback_filter import NegativeFeedbackFilter
from quanzi.models.ranking.filters.previously_seen_filter import PreviouslySeenFilter
from quanzi.models.ranking.hydrators.viewer_relation_hydrator import ViewerRelationHydrator
from quanzi.models.ranking.params import (
    DEFAULT_ARMS,
    RankingParams,
    assign_arm,
    phase_for,
    resolve_params,
)
from quanzi.models.ranking.pipeline import RankingPipeline
from quanzi.models.ranking.query import FeedQuery, FeedScope, ViewerContext
from quanzi.models.ranking.scorers.weighted_scorer import WeightedScorer
from quanzi.models.ranking.selectors.author_cap_selector import (
    AuthorCapSelector,
    rank_within_group,
)
from quanzi.models.ranking.selectors.mmr_selector import mmr_order


def _hydrated(store, query, ids):
    cands = CandidateSet.from_ids(ids)
    store.hydrate(cands)
    ViewerRelationHydrator().hydrate(query, store, cands)
    return cands


def test_rank_feed_lifts_friend_post_to_l1(store, query_factory) -> None:
    result = RankingPipeline.default().rank(query_factory(), store)
    by_id = {i.post_id: i for i in result.items}
    assert by_id["p_friend"].trust_level == 1
    assert by_id["p_stranger"].trust_level == 3
    order = [i.post_id for i in result.items]
    assert order.index("p_friend") < order.index("p_stranger")  # same features but the lift


def test_friend_lift_never_applies_to_ads(store, query_factory) -> None:
    viewer = ViewerContext(viewer_id="v1", friends=frozenset({"u_merchant"}))
    q = query_factory(viewer)
    cands = _hydrated(store, q, ["p_ad"])
    assert cands.cols["viewer_level"][0] == 5


def test_self_sourced_feed_drops_rejected_old_and_disguised_posts(store, query_factory) -> None:
    result = RankingPipeline.default().rank(query_factory(), store)
    ids = [i.post_id for i in result.items]
    assert "p_rejected" not in ids and "p_old" not in ids and "p_disguised" not in ids
    assert "p_other_circle" not in ids  # a friend's post from another circle: not here
    assert result.removed["moderation"] >= 1


def test_friends_any_circle_lets_a_friends_other_circle_post_in_at_l1(store, query_factory) -> None:
    result = RankingPipeline.default().rank(
        query_factory(params=RankingParams(friends_any_circle=True)), store
    )
    items = {i.post_id: i for i in result.items}
    assert items["p_other_circle"].trust_level == 1
    assert items["p_other_circle"].source == "friends"


def test_given_candidates_of_another_circle_are_removed_as_other_circle(
    store, query_factory
) -> None:
    result = RankingPipeline.default().rank(
        query_factory(candidate_ids=("p_stranger", "p_other_circle", "p_never_ingested")), store
    )
    assert [i.post_id for i in result.items] == ["p_stranger"]
    assert result.removed["unknown"] == 1  # not counted as a moderation removal
    assert result.removed["other_circle"] == 1
    assert result.removed["moderation"] == 0


def test_a_circle_kinds_scope_lets_its_member_circles_and_topic_posts_in(
    store, query_factory
) -> None:
    """An industry circle's scope is its member circles (the friends source fetches them
    too); an interest circle's is its topic posts wherever posted."""
    industry = replace(query_factory(), circle_id="ind", scope=FeedScope(circles=frozenset({"c2"})))
    result = RankingPipeline.default().rank(industry, store)
    assert [i.post_id for i in result.items] == ["p_other_circle"]
    assert result.items[0].source == "friends"
    interest = replace(
        query_factory(candidate_ids=("p_stranger", "p_other_circle")),
        circle_id="int",
        scope=FeedScope(posts=frozenset({"p_other_circle"})),
    )
    result = RankingPipeline.default().rank(interest, store)
    assert [i.post_id for i in result.items] == ["p_other_circle"]
    assert result.removed["other_circle"] == 1


def test_given_candidates_are_the_only_source(store, query_factory) -> None:
    result = RankingPipeline.default().rank(query_factory(candidate_ids=("p_stranger",)), store)
    assert [i.post_id for i in result.items] == ["p_stranger"]
    assert result.items[0].source == "given"


def test_unknown_candidate_ids_are_dropped_not_errors(store, query_factory) -> None:
    result = RankingPipeline.default().rank(query_factory(candidate_ids=("nope",)), store)
    assert result.items == [] and result.errors == []


def test_every_item_says_why_it_ranked(store, query_factory) -> None:
    result = RankingPipeline.default().rank(query_factory(), store)
    for item in result.items:
        assert 1 <= len(item.reasons) <= 3
        mags = [abs(v) for _, v in item.reasons]
        assert mags == sorted(mags, reverse=True)


def test_filters_remove_what_they_say(store, query_factory) -> None:
    viewer = ViewerContext(
        viewer_id="v1",
        seen_posts=frozenset({"p_friend"}),
        negative_posts=frozenset({"p_stranger"}),
        blocked_authors=frozenset({"u_merchant"}),
    )
    q = query_factory(viewer, exclude_ids=frozenset({"p_ad"}))
    ids = ["p_friend", "p_stranger", "p_ad", "p_rejected", "p_old"]
    cands = _hydrated(store, q, ids)
    assert list(ModerationFilter().keep(q, cands)) == [True, True, True, False, True]
    assert list(PreviouslySeenFilter().keep(q, cands)) == [False, True, False, True, True]
    assert list(NegativeFeedbackFilter().keep(q, cands)) == [True, False, False, True, True]
    assert list(AgeFilter().keep(q, cands)) == [True, True, True, True, False]
    q2 = query_factory(viewer, exclude_seen=False)
    assert PreviouslySeenFilter().keep(q2, cands)[0]


def test_negative_feedback_on_an_author_lowers_their_other_posts(store, query_factory) -> None:
    plain = query_factory(ViewerContext(viewer_id="v1"))
    hurt = query_factory(ViewerContext(viewer_id="v1", negative_authors=frozenset({"u_stranger"})))
    s_plain = WeightedScorer().score(plain, _hydrated(store, plain, ["p_stranger"])).scores[0]
    s_hurt = WeightedScorer().score(hurt, _hydrated(store, hurt, ["p_stranger"])).scores[0]
    assert s_hurt < s_plain


def test_weights_are_overridable_per_request(store, query_factory) -> None:
    q = query_factory(
        params=RankingParams(
            w_freshness=0.0, w_trust=0.0, w_quality=0.0, w_engagement=0.0, w_phase=0.0
        )
    )
    scored = WeightedScorer().score(q, _hydrated(store, q, ["p_friend", "p_ad"]))
    assert np.allclose(scored.scores, 0.0)


def test_scorer_refuses_non_finite_features(store, query_factory) -> None:
    q = query_factory()
    cands = _hydrated(store, q, ["p_friend"])
    cands.cols["quality"][0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        WeightedScorer().score(q, cands)


def test_author_cap_keeps_each_authors_best(store, query_factory) -> None:
    q = query_factory(params=RankingParams(author_cap=1))
    cands = CandidateSet.from_ids(["a", "b", "c"])
    cands.cols["author_id"][:] = ["x", "x", "y"]
    kept = AuthorCapSelector().select(q, cands, np.array([3.0, 2.0, 1.0]), np.array([0, 1, 2]))
    assert list(kept) == [0, 2]


def test_rank_within_group_counts_earlier_positions_of_the_same_group() -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 7, 200)
    seen: dict[int, int] = {}
    naive = []
    for g in groups.tolist():
        naive.append(seen.get(g, 0))
        seen[g] = seen.get(g, 0) + 1
    assert rank_within_group(groups).tolist() == naive


def test_author_cap_on_interned_codes_matches_the_author_ids() -> None:
    rng = np.random.default_rng(5)
    snap = SnapshotFeedStore()
    ids = [f"p{i}" for i in range(120)]
    snap.upsert_posts(
        pd.DataFrame(
            {
                "id": ids,
                "status": "pass",
                "circle_id": "c1",
                "author_id": [f"u{a}" for a in rng.integers(0, 15, 120)],
            }
        )
    )
    cands = CandidateSet.from_ids([*ids[::-1], "unknown_1", "unknown_2"])
    snap.hydrate(cands)
    assert cands.cols["author_code"][-2] != cands.cols["author_code"][-1]  # unknown: own code
    order = rng.permutation(len(cands))
    query = FeedQuery(
        viewer=ViewerContext("v"),
        circle_id="c1",
        limit=20,
        now=pd.Timestamp.now(tz="UTC"),
        phase="after_sales",
        params=RankingParams(author_cap=2),
    )
    by_code = AuthorCapSelector().select(query, cands, np.zeros(len(cands)), order)
    del cands.cols["author_code"]
    by_id = AuthorCapSelector().select(query, cands, np.zeros(len(cands)), order)
    assert by_code.tolist() == by_id.tolist() and len(by_code) < len(order)


def test_mmr_spreads_near_duplicates() -> None:
    vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    rel = np.array([1.0, 0.99, 0.5])
    assert list(mmr_order(rel, vecs, 3, lam=0.5))[:2] == [0, 2]
    assert list(mmr_order(rel, vecs, 3, lam=1.0)) == [0, 1, 2]


def test_failing_source_is_isolated(store, query_factory) -> None:
    class Broken:
        name = "broken"

        def enabled(self, query):
            return True

        def fetch(self, query, store):
            raise RuntimeError("down")

    pipe = RankingPipeline.default()
    pipe.sources.append(Broken())
    result = pipe.rank(query_factory(), store)
    assert result.items and result.errors == ["source broken: RuntimeError"]


def test_failing_filter_fails_closed(store, query_factory) -> None:
    class Broken:
        name = "broken"

        def keep(self, query, candidates):
            raise RuntimeError("down")

    pipe = RankingPipeline.default()
    pipe.filters.insert(0, Broken())
    assert pipe.rank(query_factory(), store).items == []


def test_arms_are_deterministic_and_split_by_share() -> None:
    assert assign_arm("viewer-1") == assign_arm("viewer-1")
    names = [assign_arm(f"v{i}").name for i in range(2000)]
    share = names.count("fresh") / len(names)
    assert abs(share - DEFAULT_ARMS[1].share) < 0.03


def test_params_refuse_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        resolve_params(DEFAULT_ARMS[0], {"w_qualty": 2.0})
    assert resolve_params(DEFAULT_ARMS[1], {"w_quality": 2.0}).freshness_half_life_hours == 18.0


def test_campaign_phases_follow_the_double_11_calendar() -> None:
    assert [
        phase_for(10, 1),
        phase_for(10, 20),
        phase_for(11, 5),
        phase_for(11, 11),
        phase_for(11, 20),
        phase_for(3, 1),
    ] == ["warmup", "seeding", "preheat", "peak", "after_sales", "off_season"]


def test_mmr_matches_the_textbook_greedy_loop() -> None:
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(60, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rel = rng.uniform(size=60)

    def textbook(k: int, lam: float) -> list[int]:
        r = (rel - rel.min()) / (rel.max() - rel.min())
        picked: list[int] = []
        while len(picked) < k:
            best = max(
                (i for i in range(60) if i not in picked),
                key=lambda i: (
                    lam * r[i]
                    - (1 - lam) * max((float(vecs[i] @ vecs[j]) for j in picked), default=0.0)
                ),
            )
            picked.append(best)
        return picked

    for lam in (0.3, 0.8):
        assert list(mmr_order(rel, vecs, 12, lam)) == textbook(12, lam)


def test_similar_source_fetches_only_posts_the_age_filter_would_keep(store, query_factory) -> None:
    from quanzi.models.ranking.sources.similar_posts_source import SimilarPostsSource

    # p_old (40 days) and p_rejected lie exactly on the viewer's interest; the age limit is
    # 30 days, so the source must not spend a slot on p_old
    viewer = ViewerContext("v1", interest=np.array([0, 0, 1], dtype=np.float32))
    got = SimilarPostsSource(k=2).fetch(query_factory(viewer), store)
    assert "p_old" not in got and got[0] == "p_rejected"
    longer = query_factory(viewer, params=RankingParams(max_age_days=60))
    assert "p_old" in SimilarPostsSource(k=2).fetch(longer, store)
