"""Every ranking param moves what the learned scorer serves (issue 14: experiments that
work). One case per ``RankingParams`` field; a guard fails when a field has no case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from quanzi.models.ranker import LinearRanker
from quanzi.models.ranking.feed_store import InMemoryFeedStore
from quanzi.models.ranking.params import DEFAULT_ARMS, RankingParams, resolve_params
from quanzi.models.ranking.pipeline import RankingPipeline, RankingResult
from quanzi.models.ranking.query import FeedQuery, ViewerContext

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # preheat: guides favoured
H = 3600.0
RANKER = LinearRanker(
    features=("quality", "fresh_24h", "log_impressions"),
    mean=np.zeros(3),
    scale=np.ones(3),
    weights=np.array([1.0, 1.0, 0.2]),
)


def _unit(*v: float) -> np.ndarray:
    x = np.asarray(v, dtype=np.float32)
    return x / np.linalg.norm(x)


@pytest.fixture
def store() -> InMemoryFeedStore:
    """Posts that differ in every way a param can weigh."""
    s = InMemoryFeedStore()
    base = dict(circle_id="c1", status="pass", quality=0.5, tier=2, base_level=3, ctype=2)
    rows: list[tuple[str, dict[str, Any], np.ndarray]] = [
        ("fresh", dict(author_id="a1", created_ts=NOW.timestamp() - 1 * H), _unit(1, 0, 0)),
        ("old", dict(author_id="a2", created_ts=NOW.timestamp() - 200 * H), _unit(0, 1, 0)),
        (
            "good",
            dict(author_id="a3", created_ts=NOW.timestamp() - 30 * H, quality=0.95, tier=3),
            _unit(0, 0, 1),
        ),
        (
            "popular",
            dict(
                author_id="a4",
                created_ts=NOW.timestamp() - 50 * H,
                impressions=100.0,
                weighted_actions=60.0,
            ),
            _unit(1, 1, 0),
        ),
        (
            "creator",
            dict(author_id="a5", created_ts=NOW.timestamp() - 40 * H, creator=True, base_level=2),
            _unit(0, 1, 1),
        ),
        (
            "friend",
            dict(author_id="pal", created_ts=NOW.timestamp() - 60 * H, verified=True),
            _unit(1, 0, 1),
        ),
        (
            "boosted",
            dict(author_id="a6", created_ts=NOW.timestamp() - 70 * H, boost=5.0),
            _unit(1, 0.5, 0),
        ),
        (
            "guide",
            dict(author_id="a7", created_ts=NOW.timestamp() - 45 * H, ctype=1),
            _unit(0.5, 0, 1),
        ),
        (
            "shunned",
            dict(author_id="bad", created_ts=NOW.timestamp() - 2 * H, quality=0.9, tier=3),
            _unit(0, 0.5, 1),
        ),
        (
            "ad",
            dict(author_id="m1", created_ts=NOW.timestamp() - 3 * H, base_level=5),
            _unit(0.2, 1, 0),
        ),
        (
            "same_author",
            dict(author_id="a1", created_ts=NOW.timestamp() - 1.5 * H),
            _unit(1, 0.05, 0),
        ),
        (
            "future",
            dict(author_id="a8", created_ts=NOW.timestamp() + 600),
            _unit(0.3, 0.3, 0.3),
        ),
        (
            "elsewhere",
            dict(author_id="pal", created_ts=NOW.timestamp() - 5 * H, circle_id="c2"),
            _unit(1, 0, 0.2),
        ),
    ]
    for pid, extra, vec in rows:
        s.add(pid, vec, **{**base, **extra})
    return s


VIEWER = ViewerContext(
    viewer_id="v",
    friends=frozenset({"pal"}),
    negative_authors=frozenset({"bad"}),
    interest=_unit(0, 0, 1),
)


def _rank(store: InMemoryFeedStore, limit: int = 8, **overrides: Any) -> RankingResult:
    params = RankingParams(**overrides)
    query = FeedQuery(
        viewer=VIEWER, circle_id="c1", limit=limit, now=NOW, phase="preheat", params=params
    )
    return RankingPipeline.default(ranker=lambda: RANKER).rank(query, store)


def _served(result: RankingResult) -> tuple:
    return tuple((i.post_id, round(i.score, 5)) for i in result.items)


# One override per param, chosen so the change is visible on this small circle.
CASES: dict[str, dict[str, Any]] = {
    "scorer": {"scorer": "weighted"},
    "w_quality": {"w_quality": 4.0},
    "w_trust": {"w_trust": 4.0},
    "trust_values": {"trust_values": (1.0, 0.1, 0.9, 0.15, 0.05, 0.0)},
    "drop_trust_levels": {"drop_trust_levels": (5, 6)},
    "w_engagement": {"w_engagement": 6.0},
    "engagement_prior_a": {"engagement_prior_a": 40.0},
    "engagement_prior_b": {"engagement_prior_b": 1.0},
    "w_freshness": {"w_freshness": 5.0},
    "freshness_half_life_hours": {"freshness_half_life_hours": 4.0},
    "w_interest": {"w_interest": 5.0},
    "w_phase": {"w_phase": 8.0},
    "w_editorial": {"w_editorial": 4.0},
    "w_content_type": {"w_content_type": 3.0},
    "negative_author_penalty": {"negative_author_penalty": 0.0},
    "circle_recent_limit": {"circle_recent_limit": 3},
    "friends_limit": {"friends_limit": 1},
    "similar_limit": {"similar_limit": 1},
    "friends_any_circle": {"friends_any_circle": True},
    "max_age_days": {"max_age_days": 1.0},
    "future_tolerance_s": {"future_tolerance_s": 3600.0},
    "author_cap": {"author_cap": 1},
    "mmr_lambda": {"mmr_lambda": 0.0},
    "mmr_pool": {"mmr_pool": 1},
    "top_reasons": {"top_reasons": 1},
}


# The other sources, narrowed so that a source's own limit shows (each source alone would
# otherwise be covered by the others: the similar source reaches most of a small circle).
BASES: dict[str, dict[str, Any]] = {
    "circle_recent_limit": {"similar_limit": 1, "friends_limit": 1},
    "friends_limit": {"circle_recent_limit": 1, "similar_limit": 1, "friends_any_circle": True},
    "similar_limit": {"circle_recent_limit": 1, "friends_limit": 1},
}


def test_every_param_has_a_case() -> None:
    assert set(CASES) == set(RankingParams.model_fields)


@pytest.mark.parametrize("name", sorted(CASES))
def test_param_moves_what_the_learned_scorer_serves(store: InMemoryFeedStore, name: str) -> None:
    base = BASES.get(name, {})
    plain = _rank(store, **base)
    moved = _rank(store, **{**base, **CASES[name]})
    assert plain.scorer == "learned-vunknown"  # the learned scorer is in force by default
    if name == "top_reasons":
        assert [len(i.reasons) for i in moved.items] != [len(i.reasons) for i in plain.items]
        return
    assert _served(moved) != _served(plain), f"{name} changed nothing"


def test_the_fresh_arm_moves_the_learned_ranking(store: InMemoryFeedStore) -> None:
    fresh = next(a for a in DEFAULT_ARMS if a.name == "fresh")
    params = resolve_params(fresh)
    moved = _rank(store, **params.model_dump())
    assert _served(moved) != _served(_rank(store))
    assert any(f == "adjust_freshness" for i in moved.items for f, _ in i.reasons)


def test_default_params_add_no_adjustment(store: InMemoryFeedStore) -> None:
    names = {f for i in _rank(store).items for f, _ in i.reasons}
    assert not any(n.startswith("adjust_") for n in names)
