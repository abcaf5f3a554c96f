"""The behaviour model: who opens which circle's feed each day, what they see and what they do.

One simulated day at a time, fully vectorised over the day's sessions:

1. Each viewer opens the app with probability activity × campaign traffic factor (× a
   penalty when all their brand relations are silent); one feed request per opener.
2. The circle of the request ∝ interest × relation weight (active > silent > none).
3. The logging policy fills ``feed_length`` positions: first a few social candidates
   (recent posts in the circle by randomly picked friends and followed accounts), then
   posts of the circle created before the request drawn ∝ 2^(-age / half-life) (prefix
   sums of per-post weights make this one ``searchsorted``); de-duplicated, shown newest
   first — except the exploration bucket (``explore_fraction`` of the requests, drawn from
   a separate random stream), shown in a uniformly random order.
4. Each impression is examined with probability (position + 1)^-eta; an examined
   impression is clicked with sigmoid(click logit) (appeal, interest, friend, follow,
   age, per-user propensity); a click may lead to like / favourite / comment / share;
   an examined, unclicked impression may be hidden; promotions and filler get reported.

The parameters live in ``WorldConfig``; the README lists them with their meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from quanzi.datasets.world.config import N_CATEGORIES, WorldConfig
from quanzi.datasets.world.posts import DAY, DISGUISED, FILLER, PROMO, epoch

# Interaction kind codes, in ORM order (quanzi.storage.orm.INTERACTION_KINDS).
IMPRESSION, CLICK, LIKE, FAVOURITE, COMMENT, SHARE, HIDE, REPORT = range(8)
SESSION_SECONDS = 600  # a request's events all fall within 10 minutes of it


@dataclass
class DayLog:
    """One day's interactions (sorted by time) and its feed requests."""

    day: int
    user: np.ndarray  # int64 viewer index
    post: np.ndarray  # int64 post index
    kind: np.ndarray  # int8
    position: np.ndarray  # int16 (0-based position in the feed)
    request: np.ndarray  # int64 global request number
    created: np.ndarray  # int64 epoch s
    n_requests: int
    friend: np.ndarray  # bool: the impression's author is the viewer's friend (for stats)
    # Per request of the day (n_requests): viewer, circle, time and whether it was in the
    # exploration bucket (random order) — the request log of an exploring world.
    req_user: np.ndarray | None = None
    req_circle: np.ndarray | None = None
    req_created: np.ndarray | None = None
    req_explore: np.ndarray | None = None


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _has(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``keys`` in a sorted int64 array."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _social_draws(
    rng: np.random.Generator,
    edges_sorted: np.ndarray,
    n_users: int,
    viewer: np.ndarray,
    circle: np.ndarray,
    t: np.ndarray,
    n_draws: int,
    recent: int,
    max_age: int,
    acp_key: np.ndarray,
    acp_order: np.ndarray,
) -> np.ndarray:
    """(sessions, n_draws) post indices from the viewer's neighbours' recent circle posts.

    ``edges_sorted`` holds keys u * n_users + v; ``acp_key`` the sorted keys
    (author * 16 + circle) << 32 | seconds. -1 where a draw finds nothing.
    """
    out = np.full((len(viewer), n_draws), -1, dtype=np.int64)
    if len(edges_sorted) == 0 or n_draws == 0:
        return out
    start = np.searchsorted(edges_sorted, viewer * n_users)
    deg = np.searchsorted(edges_sorted, (viewer + 1) * n_users) - start
    for j in range(n_draws):
        has = deg > 0
        k = start + (rng.random(len(viewer)) * deg).astype(np.int64)
        other = edges_sorted[np.minimum(k, len(edges_sorted) - 1)] % n_users
        base = (other * 16 + circle) << 32
        lo = np.searchsorted(acp_key, base + np.maximum(t - max_age, 0))
        hi = np.searchsorted(acp_key, base + t)
        n = hi - lo
        ok = has & (n > 0)
        back = (rng.random(len(viewer)) * np.minimum(n, recent)).astype(np.int64)
        out[ok, j] = acp_order[(hi - 1 - back)[ok]]
    return out


def simulate(
    rng: np.random.Generator,
    cfg: WorldConfig,
    *,
    activity: np.ndarray,
    interest: np.ndarray,
    state: np.ndarray,
    click_offset: np.ndarray,
    post_circle: np.ndarray,
    post_created: np.ndarray,
    post_author: np.ndarray,
    post_appeal: np.ndarray,
    post_quality: np.ndarray,
    post_kind: np.ndarray,
    friends: np.ndarray,
    follows: np.ndarray,
    explore_rng: np.random.Generator | None = None,
) -> Iterator[DayLog]:
    """Yield one ``DayLog`` per simulated day (see the module docstring).

    ``explore_rng`` (needed when ``cfg.explore_fraction`` > 0) draws the exploration
    bucket and its random orders; ``rng`` is never asked for more numbers because of it,
    so every newest-first request is exactly what it is in the world without a bucket.
    """
    if cfg.explore_fraction > 0 and explore_rng is None:
        raise ValueError("explore_fraction > 0 needs an explore_rng")
    n_users = len(activity)
    n_posts = len(post_circle)
    # Posts sorted by (circle, created): a circle's posts before t are one contiguous range.
    by_cp = np.lexsort((post_created, post_circle))
    key_cp = post_circle[by_cp].astype(np.int64) * (1 << 40) + post_created[by_cp]
    circle_lo = np.searchsorted(post_circle[by_cp], np.arange(N_CATEGORIES), side="left")
    half_life = cfg.feed_half_life_days * DAY
    t_ref = epoch(cfg.sim_end)
    weight = np.exp2((post_created[by_cp] - t_ref) / half_life)
    prefix = np.concatenate([[0.0], np.cumsum(weight)])

    friend_keys = np.unique(
        np.concatenate(
            [friends[:, 0] * n_users + friends[:, 1], friends[:, 1] * n_users + friends[:, 0]]
        )
    )
    follow_keys = np.unique(follows[:, 0] * n_users + follows[:, 1])
    # Posts by (author, circle, time) for the social sources; seconds relative to t0 < 2^32.
    t0 = int(post_created.min()) - 1 if n_posts else 0
    acp_order = np.lexsort((post_created, post_circle, post_author))
    acp_key = ((post_author[acp_order] * 16 + post_circle[acp_order]) << 32) + (
        post_created[acp_order] - t0
    )

    # Session circle weights: interest × relation state.
    rel_w = np.array(
        [cfg.unrelated_circle_weight, cfg.silent_circle_weight, cfg.active_circle_weight]
    )
    circle_w = (interest * rel_w[state]).astype(np.float64)
    circle_cum = np.cumsum(circle_w, axis=1)
    any_active = (state == 2).any(axis=1)
    open_base = activity * np.where(any_active, 1.0, cfg.silent_open_factor)
    diurnal = np.asarray(cfg.diurnal, dtype=np.float64)
    diurnal = diurnal / diurnal.sum()
    is_promo = (post_kind == PROMO) | (post_kind == DISGUISED)
    is_filler = post_kind == FILLER
    L, D = cfg.feed_length, cfg.feed_draws
    social_age = int(cfg.feed_social_max_age_days * DAY)

    next_request = 0
    for d in range(cfg.sim_days):
        day_start_dt = cfg.sim_start + timedelta(days=d)
        day_start = epoch(day_start_dt)
        factor = cfg.traffic_phase[cfg.phase_of(day_start_dt)]
        opened = np.flatnonzero(rng.random(n_users) < np.minimum(0.95, open_base * factor))
        hour = rng.choice(24, size=len(opened), p=diurnal)
        t = day_start + hour * 3600 + rng.integers(0, 3600, size=len(opened))
        t = np.minimum(t, day_start + DAY - SESSION_SECONDS)
        cum = circle_cum[opened]
        r = rng.random(len(opened)) * cum[:, -1]
        circle = np.minimum((cum < r[:, None]).sum(axis=1), N_CATEGORIES - 1)

        lo = circle_lo[circle]
        hi = np.searchsorted(key_cp, circle.astype(np.int64) * (1 << 40) + t, side="left")
        ok = hi > lo
        opened, t, lo, hi = opened[ok], t[ok], lo[ok], hi[ok]
        n_s = len(opened)
        circle = circle[ok]
        # Social candidates first (post indices), then freshness-weighted draws inside
        # [lo, hi): one searchsorted on the prefix sums (positions in by_cp order).
        social = [
            _social_draws(
                rng,
                keys,
                n_users,
                opened,
                circle,
                t - t0,
                n,
                cfg.feed_social_recent,
                social_age,
                acp_key,
                acp_order,
            )
            for keys, n in (
                (friend_keys, cfg.feed_friend_draws),
                (follow_keys, cfg.feed_follow_draws),
            )
        ]
        u = prefix[lo][:, None] + rng.random((n_s, D)) * (prefix[hi] - prefix[lo])[:, None]
        drawn = np.searchsorted(prefix, u, side="right") - 1
        drawn = by_cp[np.clip(drawn, lo[:, None], (hi - 1)[:, None])]
        cand = np.concatenate([*social, drawn], axis=1)
        width = cand.shape[1]
        # De-duplicate within a request, keeping draw order, at most L posts.
        sess = np.repeat(np.arange(n_s, dtype=np.int64), width)
        flat = cand.ravel()
        valid = flat >= 0
        sess, flat = sess[valid], flat[valid]
        _, first = np.unique(sess * n_posts + flat, return_index=True)
        first.sort()  # back to draw order: social candidates first
        sess, pidx = sess[first], flat[first]
        sess_start = np.searchsorted(sess, np.arange(n_s))
        rank = np.arange(len(sess)) - sess_start[sess]
        keep = rank < L
        sess, pidx = sess[keep], pidx[keep]
        viewer = opened[sess]
        mine = post_author[pidx] == viewer  # one's own posts are not shown to oneself
        sess, pidx, viewer = sess[~mine], pidx[~mine], viewer[~mine]
        # Newest first: position = rank by created_at descending within the request;
        # exploration requests: a uniformly random order (random sort keys).
        if cfg.explore_fraction > 0:
            assert explore_rng is not None
            explore = explore_rng.random(n_s) < cfg.explore_fraction
            key = np.where(
                explore[sess], explore_rng.random(len(sess)), -post_created[pidx].astype(np.float64)
            )
            order = np.lexsort((key, sess))
        else:
            explore = np.zeros(n_s, dtype=bool)
            order = np.lexsort((-post_created[pidx], sess))
        sess, pidx, viewer = sess[order], pidx[order], viewer[order]
        position = np.arange(len(sess)) - np.searchsorted(sess, sess)
        t_req = t[sess]
        n_imp = len(sess)

        # --- engagement ------------------------------------------------------------------
        author = post_author[pidx]
        friend = _has(friend_keys, viewer * n_users + author)
        follow = _has(follow_keys, viewer * n_users + author)
        age_days = (t_req - post_created[pidx]) / DAY
        pint = np.maximum(interest[viewer, post_circle[pidx]], 1e-3)
        examined = rng.random(n_imp) < (position + 1.0) ** -cfg.position_eta
        z = (
            cfg.click_bias
            + cfg.click_appeal_w * (post_appeal[pidx] - 0.5)
            + cfg.click_interest_w * np.log(10.0 * pint)
            + cfg.click_friend_w * friend
            + cfg.click_follow_w * follow
            + cfg.click_age_w * age_days
            + click_offset[viewer]
        )
        click = examined & (rng.random(n_imp) < _sigmoid(z))
        qc = post_quality[pidx] - 0.5

        like, fav, comment, share = (
            click & (rng.random(n_imp) < _sigmoid(b + wq * qc + wf * friend))
            for b, wq, wf in (
                cfg.like_logit,
                cfg.favourite_logit,
                cfg.comment_logit,
                cfg.share_logit,
            )
        )
        hb, hp, hf = cfg.hide_logit
        hide = (
            examined
            & ~click
            & (rng.random(n_imp) < _sigmoid(hb + hp * is_promo[pidx] + hf * is_filler[pidx]))
        )
        rb, rp, rf = cfg.report_logit
        report = examined & (
            rng.random(n_imp) < _sigmoid(rb + rp * is_promo[pidx] + rf * is_filler[pidx])
        )

        # --- event times: impression, then click, then reactions --------------------------
        t_imp = t_req + position * 3 + rng.integers(0, 3, size=n_imp)
        t_click = t_imp + rng.integers(2, 30, size=n_imp)
        parts = [(np.ones(n_imp, bool), IMPRESSION, t_imp), (click, CLICK, t_click)]
        for mask, code in ((like, LIKE), (fav, FAVOURITE), (comment, COMMENT), (share, SHARE)):
            parts.append((mask, code, t_click + rng.integers(5, 180, size=n_imp)))
        for mask, code in ((hide, HIDE), (report, REPORT)):
            parts.append((mask, code, t_imp + rng.integers(1, 10, size=n_imp)))
        idx = np.concatenate([np.flatnonzero(m) for m, _, _ in parts])
        kinds = np.concatenate([np.full(int(m.sum()), c, np.int8) for m, c, _ in parts])
        times = np.concatenate([tt[m] for m, _, tt in parts])
        o = np.lexsort((kinds, idx, times))
        idx, kinds, times = idx[o], kinds[o], times[o]
        yield DayLog(
            day=d,
            user=viewer[idx],
            post=pidx[idx],
            kind=kinds,
            position=position[idx].astype(np.int16),
            request=next_request + sess[idx],
            created=times,
            n_requests=n_s,
            friend=friend[idx],
            req_user=opened,
            req_circle=circle,
            req_created=t,
            req_explore=explore,
        )
        next_request += n_s
