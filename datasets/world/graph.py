"""Accounts and the social side of the world: users, friends, follows, brand relations.

Everything is vectorised numpy over user indices 0..U-1 (merchants first); ids are
formatted only when tables are written. See README "Accounts and graph" for the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from quanzi.datasets.world.config import CIRCLES, N_CATEGORIES, WorldConfig

_Z = NormalDist()
KIND_USER, KIND_CREATOR, KIND_MERCHANT = 0, 1, 2
REL_FAN, REL_MEMBER, REL_PAST_BUYER = 0, 1, 2


@dataclass
class Accounts:
    """Per-account arrays (length U)."""

    kind: np.ndarray  # int8: KIND_*
    merchant_circle: np.ndarray  # int16: circle index for merchants, -1 otherwise
    certified: np.ndarray  # bool
    shill: np.ndarray  # bool (hidden): sock puppet paid to post disguised ads
    interest: np.ndarray  # (U, 10) float32 (hidden): Dirichlet interest over categories
    activity: np.ndarray  # float32 (hidden): P(open the app on a day)
    posting: np.ndarray  # float64 (hidden): relative posting propensity
    click_offset: np.ndarray  # float32 (hidden): per-user click propensity on the logit
    followers_platform: np.ndarray  # int64: platform-wide follower count before in-world follows
    account_created: np.ndarray  # int64 epoch seconds

    @property
    def n(self) -> int:
        return len(self.kind)


def make_accounts(
    rng: np.random.Generator, n_users: int, cfg: WorldConfig, t_first: int, t_last: int
) -> Accounts:
    """Merchants (1–3 per circle) first, then creators and users in random order."""
    lo, hi = cfg.merchants_per_circle
    per_circle = rng.integers(lo, hi + 1, size=N_CATEGORIES)
    n_merchants = int(per_circle.sum())
    if n_users < n_merchants + 20:
        raise ValueError(f"a world needs at least {n_merchants + 20} accounts, got {n_users}")
    kind = np.zeros(n_users, dtype=np.int8)
    kind[:n_merchants] = KIND_MERCHANT
    rest = n_users - n_merchants
    n_creators = max(3, round(rest * cfg.creator_share))
    creators = n_merchants + rng.choice(rest, size=n_creators, replace=False)
    kind[creators] = KIND_CREATOR
    merchant_circle = np.full(n_users, -1, dtype=np.int16)
    merchant_circle[:n_merchants] = np.repeat(np.arange(N_CATEGORIES), per_circle)

    is_creator = kind == KIND_CREATOR
    is_user = kind == KIND_USER
    certified = is_creator & (rng.random(n_users) < cfg.creator_certified_share)
    shill = is_user & (rng.random(n_users) < cfg.shill_share)

    interest = rng.dirichlet(np.full(N_CATEGORIES, cfg.interest_concentration), size=n_users)
    # Merchants care about their own circle only.
    interest[:n_merchants] = 0.0
    interest[np.arange(n_merchants), merchant_circle[:n_merchants]] = 1.0
    activity = rng.beta(*cfg.activity_beta, size=n_users)
    activity[~(is_user | is_creator)] = 0.0  # merchant accounts do not browse feeds

    posting = rng.lognormal(0.0, cfg.posting_sigma, size=n_users)
    posting[is_creator] *= cfg.creator_posting_boost
    click_offset = rng.normal(0.0, cfg.click_user_sigma, size=n_users)

    med, sig = cfg.user_followers
    followers = rng.lognormal(np.log(med), sig, size=n_users)
    # Creators: stratified lognormal draws (one per quantile band, shuffled), so even the
    # ten creators of a 1k-post world span the distribution's head and tail.
    med, sig = cfg.creator_followers
    n_c = int(is_creator.sum())
    u = (rng.permutation(n_c) + rng.random(n_c)) / n_c
    followers[is_creator] = np.exp(np.log(med) + sig * np.array([_Z.inv_cdf(x) for x in u]))
    med, sig = cfg.merchant_followers
    followers[:n_merchants] = rng.lognormal(np.log(med), sig, size=n_merchants)

    account_created = rng.integers(t_first, t_last, size=n_users)
    return Accounts(
        kind=kind,
        merchant_circle=merchant_circle,
        certified=certified,
        shill=shill,
        interest=interest.astype(np.float32),
        activity=activity.astype(np.float32),
        posting=posting,
        click_offset=click_offset.astype(np.float32),
        followers_platform=np.floor(followers).astype(np.int64),
        account_created=account_created.astype(np.int64),
    )


def _pick_weighted(
    rng: np.random.Generator,
    cum: np.ndarray,
    n: int,
    lo: float | np.ndarray = 0.0,
    hi: float | np.ndarray | None = None,
) -> np.ndarray:
    """Indices drawn ∝ weights, given their cumulative sum (optionally within [lo, hi))."""
    top = cum[-1] if hi is None else hi
    u = lo + rng.random(n) * (top - lo)
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


def friend_edges(rng: np.random.Generator, acc: Accounts, cfg: WorldConfig) -> np.ndarray:
    """Undirected friend pairs (E, 2), i < j, from a Chung–Lu model with homophily.

    Each user gets a lognormal expected-degree weight (a share are isolates with weight
    0; merchants have no friends). An edge picks both ends ∝ weight, either among all
    users or, with probability ``friend_homophily``, inside one primary-interest group.
    The result is a heavy-tailed degree distribution with interest-assortative edges.
    """
    n = acc.n
    w = rng.lognormal(0.0, cfg.friend_weight_sigma, size=n)
    w[acc.kind == KIND_MERCHANT] = 0.0
    w[rng.random(n) < cfg.friend_isolate_share] = 0.0
    n_social = int((w > 0).sum())
    n_edges = round(cfg.friend_mean_degree * n_social / 2)
    n_homo = int(rng.binomial(n_edges, cfg.friend_homophily))
    n_rand = n_edges - n_homo

    cum = np.cumsum(w)
    rand_pairs = np.stack([_pick_weighted(rng, cum, n_rand), _pick_weighted(rng, cum, n_rand)], 1)

    group = acc.interest.argmax(axis=1)
    order = np.argsort(group, kind="stable")
    cum_g = np.cumsum(w[order])
    bounds = np.searchsorted(group[order], np.arange(N_CATEGORIES + 1), side="left")
    g_lo = np.where(bounds[:-1] > 0, cum_g[np.maximum(bounds[:-1] - 1, 0)], 0.0)
    g_hi = np.where(bounds[1:] > 0, cum_g[np.maximum(bounds[1:] - 1, 0)], 0.0)
    g_mass = g_hi - g_lo
    g = rng.choice(N_CATEGORIES, size=n_homo, p=g_mass / g_mass.sum())
    a = order[_pick_weighted(rng, cum_g, n_homo, g_lo[g], g_hi[g])]
    b = order[_pick_weighted(rng, cum_g, n_homo, g_lo[g], g_hi[g])]
    pairs = np.concatenate([rand_pairs, np.stack([a, b], 1)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs.sort(axis=1)
    keys = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([keys // n, keys % n], 1)


@dataclass
class BrandRelations:
    """(user, circle) pairs with kind and active state."""

    user: np.ndarray  # int64
    circle: np.ndarray  # int64
    kind: np.ndarray  # int8: REL_*
    active: np.ndarray  # bool


def brand_relations(
    rng: np.random.Generator, acc: Accounts, cfg: WorldConfig
) -> tuple[BrandRelations, np.ndarray]:
    """Fan (and member) relations of users and creators, chosen by interest.

    Returns the relations and ``state`` (U, 10) int8: 0 none, 1 silent, 2 active — the
    matrix the behaviour model reads. Each user relates to 1 + Poisson(extra) circles,
    picked without replacement ∝ interest (Gumbel top-k); a relation is active with
    probability ``active_base + active_slope × activity`` (capped).
    """
    people = np.flatnonzero(acc.kind != KIND_MERCHANT)
    k = np.minimum(1 + rng.poisson(cfg.circles_per_user_extra, size=len(people)), N_CATEGORIES)
    keys = np.log(acc.interest[people] + 1e-12) + rng.gumbel(size=(len(people), N_CATEGORIES))
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(N_CATEGORIES)[None, :] < k[:, None]
    user = np.repeat(people, k)
    circle = ranked[take]
    p_active = np.minimum(cfg.active_cap, cfg.active_base + cfg.active_slope * acc.activity[user])
    active = rng.random(len(user)) < p_active
    state = np.zeros((acc.n, N_CATEGORIES), dtype=np.int8)
    state[user, circle] = np.where(active, 2, 1)
    member = rng.random(len(user)) < cfg.member_share
    rel = BrandRelations(
        user=np.concatenate([user, user[member]]).astype(np.int64),
        circle=np.concatenate([circle, circle[member]]).astype(np.int64),
        kind=np.concatenate(
            [np.full(len(user), REL_FAN), np.full(int(member.sum()), REL_MEMBER)]
        ).astype(np.int8),
        active=np.concatenate([active, active[member]]),
    )
    return rel, state


def follow_edges(
    rng: np.random.Generator, acc: Accounts, state: np.ndarray, cfg: WorldConfig
) -> np.ndarray:
    """Directed follows (F, 2) user → creator (∝ platform followers) or → a merchant.

    Merchant follows go to a merchant of a circle the follower already relates to.
    """
    people = np.flatnonzero(acc.kind != KIND_MERCHANT)
    n_follow = rng.poisson(cfg.follows_per_user, size=len(people))
    src = np.repeat(people, n_follow)
    to_merchant = rng.random(len(src)) < cfg.follow_merchant_share
    creators = np.flatnonzero(acc.kind == KIND_CREATOR)
    cum = np.cumsum(acc.followers_platform[creators].astype(np.float64))
    dst = np.empty(len(src), dtype=np.int64)
    n_c = int((~to_merchant).sum())
    dst[~to_merchant] = creators[_pick_weighted(rng, cum, n_c)]
    # A related circle of each merchant-follower (Gumbel-max over related circles).
    msrc = src[to_merchant]
    keys = np.where(state[msrc] > 0, rng.gumbel(size=(len(msrc), N_CATEGORIES)), -np.inf)
    circle = keys.argmax(axis=1)
    merchants = np.flatnonzero(acc.kind == KIND_MERCHANT)
    m_circle = acc.merchant_circle[merchants]
    starts = np.searchsorted(m_circle, np.arange(N_CATEGORIES), side="left")
    counts = np.bincount(m_circle, minlength=N_CATEGORIES)
    dst[to_merchant] = merchants[
        starts[circle] + (rng.random(len(msrc)) * counts[circle]).astype(np.int64)
    ]
    pairs = np.stack([src, dst], 1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    keys = np.unique(pairs[:, 0] * acc.n + pairs[:, 1])
    return np.stack([keys // acc.n, keys % acc.n], 1)


def display_names(rng: np.random.Generator, acc: Accounts) -> np.ndarray:
    """Chinese nicknames from a small adjective × noun grammar, plus a number."""
    adj = np.array(
        [
            "快乐的",
            "安静的",
            "爱吃的",
            "小",
            "大",
            "认真的",
            "慢慢",
            "阿",
            "不二",
            "晴天",
            "夏天的",
            "爱买的",
        ],
        dtype=object,
    )
    noun = np.array(
        [
            "猫咪",
            "橙子",
            "鲸鱼",
            "小鹿",
            "桃子",
            "星星",
            "饼干",
            "松鼠",
            "柠檬",
            "团子",
            "熊猫",
            "云朵",
        ],
        dtype=object,
    )
    n = acc.n
    names = (
        adj[rng.integers(0, len(adj), n)]
        + noun[rng.integers(0, len(noun), n)]
        + rng.integers(1, 10000, n).astype(str).astype(object)
    )
    is_creator = acc.kind == KIND_CREATOR
    names[is_creator] = names[is_creator] + "测评"
    merchants = np.flatnonzero(acc.kind == KIND_MERCHANT)
    for rank, m in enumerate(merchants):
        spec = CIRCLES[acc.merchant_circle[m]]
        first = rank == 0 or acc.merchant_circle[merchants[rank - 1]] != acc.merchant_circle[m]
        names[m] = f"{spec.brand}官方旗舰店" if first else f"{spec.brand}专卖店{rank}"
    return names


def degree_stats(
    pairs: np.ndarray, n_users: int, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Mean, median, p99, max degree and the friendless share (over ``mask`` users)."""
    deg = np.bincount(pairs.ravel(), minlength=n_users)
    if mask is not None:
        deg = deg[mask]
    return {
        "mean": float(deg.mean()),
        "median": float(np.median(deg)),
        "p99": float(np.percentile(deg, 99)),
        "max": int(deg.max()),
        "friendless_share": float((deg == 0).mean()),
    }
