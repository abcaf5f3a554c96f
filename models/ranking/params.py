"""Every tunable of the ranking pipeline, declared once with its type and default.

``RankingParams`` holds what a request may override (``FeedRankRequest.params``);
experiment arms are named sets of overrides, so an experiment never needs code. The two
tunables below it are fixed per worker, because the snapshot computes with them once for
every request (``SnapshotFeedStore``): a request cannot change them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

InteractionKind = Literal[
    "impression", "click", "like", "favourite", "comment", "share", "hide", "report"
]
Phase = Literal["warmup", "seeding", "preheat", "peak", "after_sales", "off_season"]


class RankingParams(BaseModel):
    """Weights, caps and half-lives of the weighted scorer and the selection stages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- which scorer: the weighted sum below, or the registered learned ranker
    # (``quanzi train ranker``; falls back to the weighted scorer when none is loaded) ---
    # Learned by default: offline it beats the weighted defaults by +0.036 NDCG@10 (95 %
    # interval [+0.018, +0.055], docs/ranking.md); without a champion the weighted runs.
    scorer: Literal["weighted", "learned"] = Field(
        "learned",
        description="Scoring stage: the learned ranker (its champion; the "
        "weighted scorer when none is loaded) or weighted features.",
    )

    # --- score = Σ weight × feature (each feature in [0, 1] unless said otherwise) ---
    w_quality: float = Field(1.0, ge=0, description="Weight of the quality score.")
    w_trust: float = Field(1.2, ge=0, description="Weight of the (viewer-relative) trust value.")
    # Value of each trust level for the feed (trust-levels.md: L1 > L2 ≈ L3; L4–L6 demoted).
    trust_values: tuple[float, float, float, float, float, float] = (
        1.0,
        0.8,
        0.75,
        0.15,
        0.05,
        0.0,
    )
    drop_trust_levels: tuple[Annotated[int, Field(ge=1, le=6)], ...] = Field(
        (6,), description="Levels removed outright."
    )
    w_engagement: float = Field(0.8, ge=0, description="Weight of the smoothed engagement rate.")
    # Beta prior of the engagement rate: (weighted actions + a) / (impressions + a + b).
    engagement_prior_a: float = Field(1.0, gt=0)
    engagement_prior_b: float = Field(20.0, gt=0)
    w_freshness: float = Field(1.0, ge=0, description="Weight of the freshness decay.")
    freshness_half_life_hours: float = Field(36.0, gt=0)
    w_interest: float = Field(0.6, ge=0, description="Weight of viewer-interest match (cosine).")
    w_phase: float = Field(0.4, ge=0, description="Weight of the campaign-phase affinity.")
    w_editorial: float = Field(1.0, ge=0, description="Weight of editor boosts (log-scaled).")
    w_content_type: float = Field(
        0.5,
        ge=0,
        description="Weight of the post's content type for the campaign phase (guides "
        "before Nov 11, usage experience and after-sales questions after it); added to the "
        "score under either scorer.",
    )
    negative_author_penalty: float = Field(
        0.6, ge=0, description="Subtracted when the viewer hid or reported this author before."
    )

    # --- sources: how many candidates each proposes (self-sourced requests) ---
    circle_recent_limit: int = Field(400, ge=1, description="Newest posts of the circle.")
    friends_limit: int = Field(100, ge=1, description="Newest posts of the viewer's friends.")
    similar_limit: int = Field(100, ge=1, description="Nearest posts to the viewer's interest.")
    friends_any_circle: bool = Field(
        False,
        description="Let friends' posts from other circles into this circle's feed (as L1 "
        "for the viewer). Off by default: a brand circle's feed shows its own posts only.",
    )

    # --- filters ---
    max_age_days: float = Field(30.0, gt=0, description="Older posts are filtered out.")
    future_tolerance_s: float = Field(
        60.0,
        ge=0,
        description="Posts dated up to this far in the future are kept (clock "
        "skew between the feed service and us); later ones are removed.",
    )

    # --- diversity and selection ---
    author_cap: int = Field(2, ge=1, description="At most this many posts per author per list.")
    mmr_lambda: float = Field(
        0.8, ge=0, le=1, description="MMR trade-off: 1 = pure score, 0 = pure novelty."
    )
    mmr_pool: int = Field(
        100,
        ge=1,
        description="Top-scored candidates that MMR reorders "
        "(at most; never more than 3 × the requested list length).",
    )

    # --- the response ---
    top_reasons: int = Field(
        3,
        ge=0,
        description="Largest feature contributions returned "
        "per item as its 'why it ranked' reasons.",
    )


# Params that shape the *score* (the weighted scorer's features and weights). Under the
# learned scorer a request or arm that changes any of them moves the learned score by the
# difference it makes to the weighted score (``scorers/learned_scorer.py``), so every
# experiment moves the ranking under either scorer.
SCORE_PARAMS: tuple[str, ...] = (
    "w_quality",
    "w_trust",
    "trust_values",
    "w_engagement",
    "engagement_prior_a",
    "engagement_prior_b",
    "w_freshness",
    "freshness_half_life_hours",
    "w_interest",
    "w_phase",
    "w_editorial",
    "negative_author_penalty",
)
# Params of the candidate sources: they cannot apply to a request that gives its own
# ``candidate_ids`` (no source runs), so such a request naming them is refused (422).
SOURCE_PARAMS: tuple[str, ...] = (
    "circle_recent_limit",
    "friends_limit",
    "similar_limit",
    "friends_any_circle",
)


def not_applicable(overrides: dict[str, object], given_candidates: bool) -> list[str]:
    """The overrides that cannot change this request's ranking (empty when all apply)."""
    return sorted(k for k in overrides if given_candidates and k in SOURCE_PARAMS)


# --- fixed per worker (the snapshot computes with them once, for every request) ---
# Each interaction type's worth, per impression; negative feedback counts against. The
# snapshot aggregates every post's engagement with these (``weighted_actions``).
INTERACTION_WEIGHTS: dict[str, float] = {
    "click": 0.2,
    "like": 1.0,
    "favourite": 1.5,
    "comment": 1.5,
    "share": 2.0,
    "hide": -2.0,
    "report": -4.0,
}
# The similar-posts source scans each circle's newest passed posts exactly, this many
# (the snapshot keeps the window per circle between changes).
SIMILAR_WINDOW = 5_000


# Campaign-phase affinities (domain.md): guides and creator reviews before the Double 11
# peak, usage experience from verified buyers and after-sales talk after it.
PHASE_AFFINITY: dict[str, dict[str, float]] = {
    "warmup": {"creator": 0.5, "verified": 0.5, "detailed": 0.5},
    "seeding": {"creator": 1.0, "verified": 0.3, "detailed": 0.8},
    "preheat": {"creator": 1.0, "verified": 0.4, "detailed": 1.0},
    "peak": {"creator": 0.6, "verified": 0.6, "detailed": 0.8},
    "after_sales": {"creator": 0.3, "verified": 1.0, "detailed": 0.8},
    "off_season": {"creator": 0.5, "verified": 0.5, "detailed": 0.5},
}


# Content type × campaign phase (domain.md: "guides before the peak, usage experience
# and after-sales after it"); types as in ``models/content_type.py``, unknown = 0.
CONTENT_PHASE_AFFINITY: dict[str, dict[str, float]] = {
    "warmup": {"guide": 0.6, "share": 0.5, "usage": 0.4, "question": 0.2},
    "seeding": {"guide": 1.0, "share": 0.5, "usage": 0.3, "question": 0.1},
    "preheat": {"guide": 1.0, "share": 0.4, "usage": 0.3, "question": 0.1},
    "peak": {"guide": 0.7, "share": 0.6, "usage": 0.3, "question": 0.2},
    "after_sales": {"guide": 0.1, "share": 0.5, "usage": 1.0, "question": 1.0},
    "off_season": {"guide": 0.5, "share": 0.5, "usage": 0.5, "question": 0.5},
}


class Arm(BaseModel):
    """A named experiment arm: a share of viewers and the parameter overrides they get."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    share: float = Field(gt=0, le=1)
    overrides: dict[str, object] = Field(default_factory=dict)


DEFAULT_ARMS: tuple[Arm, ...] = (
    Arm(name="control", share=0.9),
    Arm(name="fresh", share=0.1, overrides={"freshness_half_life_hours": 18.0}),
)


def assign_arm(
    viewer_id: str, arms: tuple[Arm, ...] = DEFAULT_ARMS, salt: str = "feed-exp-1"
) -> Arm:
    """Deterministic arm for a viewer: the same viewer always sees the same arm."""
    total = sum(a.share for a in arms)
    digest = hashlib.sha256(f"{salt}:{viewer_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64 * total
    acc = 0.0
    for arm in arms:
        acc += arm.share
        if u < acc:
            return arm
    return arms[-1]


def resolve_params(
    arm: Arm, request_overrides: dict[str, object] | None = None, base: RankingParams | None = None
) -> RankingParams:
    """Base params ← arm overrides ← request overrides (unknown keys are errors)."""
    merged = {
        **(base or RankingParams()).model_dump(),
        **arm.overrides,
        **(request_overrides or {}),
    }
    return RankingParams.model_validate(merged)


def phase_for(month: int, day: int) -> Phase:
    """The campaign phase of a calendar day (domain.md's Double 11 calendar)."""
    if month in (9,) or (month == 10 and day < 15):
        return "warmup"
    if month == 10:
        return "seeding"
    if month == 11 and day <= 10:
        return "preheat"
    if month == 11 and day == 11:
        return "peak"
    if (month == 11 and day >= 12) or month == 12:
        return "after_sales"
    return "off_season"


CHINA = ZoneInfo("Asia/Shanghai")  # the campaign calendar's time zone


def campaign_phase(now: datetime) -> Phase:
    """The campaign phase of ``now`` on the China calendar day (domain.md)."""
    local = now.astimezone(CHINA)
    return phase_for(local.month, local.day)
