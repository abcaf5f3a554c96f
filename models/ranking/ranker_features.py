"""The learned ranker's features: one function shared by training and serving.

Why one module: the offline trainer (``training/tasks_impl/ranker.py``) builds its feature
rows by hydrating logged requests through the same store and viewer context the service
uses and then calling ``ranker_features`` — the very function the ``LearnedScorer`` calls
per request — so the two cannot drift.

Everything here is known at request time from the hydrated candidates, the viewer context
and the query; nothing reads the logged position or the world's hidden truth. Features are
raw (standardisation belongs to the model) and float64, ``(n, len(FEATURES))``:

- age: ``log_age`` (log1p of hours), three freshness decays (half-lives 6 h, 24 h, 72 h),
  ``age_rank`` (log1p of the post's rank among this request's candidates, newest = 0:
  how far down a newest-first list the post would sit) and ``top_rank``;
- post: ``quality`` score, ``trust`` (value of the viewer-relative level, default
  ``trust_values``), ``level_l1`` (a friend's lifted post), ``merchant`` (L5/L6 base level),
  ``engagement`` (Beta-smoothed weighted actions per impression), ``log_impressions``,
  ``log_actions``,
  ``editorial`` (log boost), ``phase`` (campaign-phase affinity);
- viewer: ``interest`` (cosine with the viewer's interest vector), ``friend``, ``follow``
  (the viewer follows the author), ``negative_author`` (hid or reported this author);
- content: ``content_phase`` (how the post's content type fits the campaign phase,
  ``CONTENT_PHASE_AFFINITY``), ``ctype_guide`` / ``ctype_usage`` / ``ctype_question``;
- the viewer's relation to the circle's brand (fan, member, past buyer; active or silent),
  crossed with the post, since a per-viewer constant cannot reorder one viewer's list:
  ``buyer_x_usage`` (a past buyer × usage experience or after-sales question),
  ``buyer_x_verified``, ``fan_x_guide``, ``member_x_creator``, ``silent_x_engagement``
  (a silent relation × the engagement rate), ``active_x_fresh``, ``norel_x_quality``
  (no relation × quality);
- interactions a linear model cannot form itself: ``quality_x_fresh`` (a fresh post's
  quality matters while it is still shown), ``engagement_x_fresh`` and
  ``engagement_x_age`` (an old post's engagement rate was earned lower in newest-first
  lists); ``top_rank`` (1 / (1 + age rank)) and ``log_actions`` (log1p of the weighted
  actions: popularity, not rate).

The feature names (``FEATURES``, in column order) are declared with the model
(``models/ranker.py``), which refuses to load weights for features this code does not build.

Serving asks only for the model's own features (``features=``), in its order: the learned
scorer then costs ≈ 0.2 ms for 500 candidates instead of computing every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from quanzi.models.content_type import CODE as CTYPE
from quanzi.models.ranker import CONTENT_FEATURES, FEATURES, RELATION_FEATURES
from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.params import RankingParams
from quanzi.models.ranking.query import FeedQuery
from quanzi.models.ranking.shared_features import (
    content_type_affinity,
    phase_affinity,
    trust_value,
)

FRESHNESS_HALF_LIVES_H = (6.0, 24.0, 72.0)
# Fixed engagement prior and trust values: the model's features must not move when an
# experiment overrides the weighted scorer's params.
_DEFAULTS = RankingParams()
_TRUST_VALUES = np.asarray(_DEFAULTS.trust_values, dtype=np.float64)  # L1..L6
_FRESH = dict(zip(("fresh_6h", "fresh_24h", "fresh_72h"), FRESHNESS_HALF_LIVES_H, strict=True))


@lru_cache(maxsize=64)
def _columns(features: tuple[str, ...]) -> dict[str, int]:
    """Column of each requested feature (checked once per feature list, not per request)."""
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown ranker features {unknown}: see FEATURES")
    return {name: j for j, name in enumerate(features)}


def ranker_features(
    query: FeedQuery, candidates: CandidateSet, features: Sequence[str] = FEATURES
) -> np.ndarray:
    """``(n, len(features))`` float64 feature rows of hydrated candidates for this query,
    columns in the order of ``features`` (default: all of ``FEATURES``).

    Only the requested columns are computed; each is one contiguous write (column-major)
    and nothing loops over candidates in Python except C-level set lookups for ``follow``.
    """
    col = _columns(tuple(features))
    c = candidates.cols
    n = len(candidates)
    out = np.zeros((n, len(col)), dtype=np.float64, order="F")
    if n == 0:
        return out

    def wants(*names: str) -> bool:
        return any(name in col for name in names)

    created = c["created_ts"].astype(np.float64, copy=False)
    age_h = np.maximum((query.now.timestamp() - created) / 3600.0, 0.0)
    log_age = np.log1p(age_h) if wants("log_age", "engagement_x_age") else None
    if "log_age" in col:
        out[:, col["log_age"]] = log_age
    fresh_24h = None
    for name, half_life in _FRESH.items():
        if wants(name) or (
            name == "fresh_24h" and wants("quality_x_fresh", "engagement_x_fresh", "active_x_fresh")
        ):
            fresh = np.exp2(age_h / -half_life)
            if name in col:
                out[:, col[name]] = fresh
            if name == "fresh_24h":
                fresh_24h = fresh
    if wants("age_rank", "top_rank"):
        rank = np.empty(n, dtype=np.float64)
        rank[np.argsort(-created, kind="stable")] = np.arange(n)
        if "age_rank" in col:
            out[:, col["age_rank"]] = np.log1p(rank)
        if "top_rank" in col:
            out[:, col["top_rank"]] = 1.0 / (1.0 + rank)

    if wants("trust", "level_l1"):
        level = c["viewer_level"].astype(np.int64)
        if "trust" in col:
            out[:, col["trust"]] = trust_value(level, _TRUST_VALUES)
        if "level_l1" in col:
            out[:, col["level_l1"]] = level == 1
    if "quality" in col:
        out[:, col["quality"]] = c["quality"]
    if "merchant" in col:
        out[:, col["merchant"]] = c["base_level"] >= 5
    impressions = np.maximum(c["impressions"].astype(np.float64), 0.0)
    actions = c["weighted_actions"].astype(np.float64)
    a, b = _DEFAULTS.engagement_prior_a, _DEFAULTS.engagement_prior_b
    engagement = (actions + a) / (impressions + a + b)
    if "engagement" in col:
        out[:, col["engagement"]] = engagement
    if "log_impressions" in col:
        out[:, col["log_impressions"]] = np.log1p(impressions)
    if "log_actions" in col:
        out[:, col["log_actions"]] = np.log1p(np.maximum(actions, 0.0))
    if "editorial" in col:
        out[:, col["editorial"]] = np.log(np.maximum(c["boost"].astype(np.float64), 1e-3))
    if "phase" in col:
        out[:, col["phase"]] = phase_affinity(query.phase, c)

    viewer = query.viewer
    if "interest" in col and viewer.interest is not None:
        embeddings = candidates.embeddings
        if embeddings is not None and embeddings.shape[1] == len(viewer.interest):
            out[:, col["interest"]] = embeddings @ viewer.interest
    if "friend" in col:
        out[:, col["friend"]] = c["is_friend"]
    if "follow" in col and viewer.follows:
        out[:, col["follow"]] = np.fromiter(
            map(viewer.follows.__contains__, c["author_id"]), bool, n
        )
    if "negative_author" in col:
        out[:, col["negative_author"]] = c["negative_author"]
    if "quality_x_fresh" in col:
        out[:, col["quality_x_fresh"]] = c["quality"] * fresh_24h
    if "engagement_x_fresh" in col:
        out[:, col["engagement_x_fresh"]] = engagement * fresh_24h
    if "engagement_x_age" in col:
        out[:, col["engagement_x_age"]] = engagement * log_age
    _content_and_relation(query, c, col, out, engagement, fresh_24h)
    if not np.isfinite(out).all():
        raise ValueError("non-finite ranker feature: check the hydrated columns")
    return out


_CONTENT, _RELATION = CONTENT_FEATURES, RELATION_FEATURES


def _content_and_relation(
    query: FeedQuery,
    c: dict[str, np.ndarray],
    col: dict[str, int],
    out: np.ndarray,
    engagement: np.ndarray,
    fresh_24h: np.ndarray | None,
) -> None:
    """The content-type and brand-relation columns (module docstring), where asked for."""
    if not any(name in col for name in (*_CONTENT, *_RELATION)):
        return
    ctype = c["ctype"]
    if "content_phase" in col:
        out[:, col["content_phase"]] = content_type_affinity(query.phase, ctype)
    for name in ("guide", "usage", "question"):
        if f"ctype_{name}" in col:
            out[:, col[f"ctype_{name}"]] = ctype == CTYPE[name]
    if not any(name in col for name in _RELATION):
        return
    kinds, active = query.viewer.brand_relation(query.circle_id)
    if "past_buyer" in kinds:
        if "buyer_x_usage" in col:
            out[:, col["buyer_x_usage"]] = (ctype == CTYPE["usage"]) | (ctype == CTYPE["question"])
        if "buyer_x_verified" in col:
            out[:, col["buyer_x_verified"]] = c["verified"]
    if "fan" in kinds and "fan_x_guide" in col:
        out[:, col["fan_x_guide"]] = ctype == CTYPE["guide"]
    if "member" in kinds and "member_x_creator" in col:
        out[:, col["member_x_creator"]] = c["creator"]
    if active is False and "silent_x_engagement" in col:
        out[:, col["silent_x_engagement"]] = engagement
    if active and "active_x_fresh" in col and fresh_24h is not None:
        out[:, col["active_x_fresh"]] = fresh_24h
    if active is None and "norel_x_quality" in col:
        out[:, col["norel_x_quality"]] = c["quality"]
