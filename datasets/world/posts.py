"""Items, orders and posts: who writes what, when, about which item, and the hidden truth.

Posts are generated kind by kind (genuine, merchant_promo, publicity, disguised_ad,
filler), then sorted by time so post ids increase with ``created_at``. Per-post Python
work is limited to string building for the non-genuine kinds (≤ 30 % of posts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from quanzi.datasets.world.config import CIRCLES, N_CATEGORIES, POST_KINDS, WorldConfig
from quanzi.datasets.world.content import (
    SMS_CONTACT,
    SourcePool,
    brand_tag,
    disguise,
    filler_text,
    publicity_text,
    quality_features,
    quality_latent,
)
from quanzi.datasets.world.graph import KIND_CREATOR, KIND_MERCHANT, KIND_USER, Accounts

DAY = 86_400
KIND_CODE = {k: i for i, k in enumerate(POST_KINDS)}
GENUINE, PROMO, PUBLICITY, DISGUISED, FILLER = range(len(POST_KINDS))
TRUST_BY_KIND = {PUBLICITY: 4, PROMO: 5, DISGUISED: 6}


def epoch(dt: object) -> int:
    """Aware datetime → integer epoch seconds."""
    return int(dt.timestamp())  # type: ignore[attr-defined]


def sample_times(
    rng: np.random.Generator,
    day_starts: np.ndarray,
    day_weights: np.ndarray,
    n: int,
    diurnal: np.ndarray,
) -> np.ndarray:
    """``n`` epoch seconds: a day ∝ ``day_weights``, an hour ∝ ``diurnal``, a uniform second."""
    day = rng.choice(len(day_starts), size=n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=n, p=diurnal / diurnal.sum())
    return day_starts[day] + hour * 3600 + rng.integers(0, 3600, size=n)


@dataclass
class Items:
    circle: np.ndarray  # int64
    price: np.ndarray  # float64
    created: np.ndarray  # int64 epoch s
    title: np.ndarray  # object
    popularity: np.ndarray  # float64, Zipf weight within its circle

    def pick(self, rng: np.random.Generator, circles: np.ndarray) -> np.ndarray:
        """An item of each given circle, ∝ its Zipf popularity."""
        out = np.empty(len(circles), dtype=np.int64)
        for c in range(N_CATEGORIES):
            sel = np.flatnonzero(circles == c)
            if len(sel) == 0:
                continue
            cand = np.flatnonzero(self.circle == c)
            p = self.popularity[cand]
            out[sel] = rng.choice(cand, size=len(sel), p=p / p.sum())
        return out


def make_items(
    rng: np.random.Generator, n_posts: int, cfg: WorldConfig, t_first: int, t_last: int
) -> Items:
    """Items per circle scale with the world; prices lognormal around the circle's median."""
    per = max(cfg.min_items_per_circle, round(cfg.items_per_circle_per_kpost * n_posts / 1000))
    circle = np.repeat(np.arange(N_CATEGORIES), per)
    median = np.array([c.price_median for c in CIRCLES])[circle]
    price = np.round(np.exp(np.log(median) + cfg.price_sigma * rng.standard_normal(len(circle))))
    price = np.maximum(price, 1.0) - 0.1  # shop-style x.9 prices
    rank = np.concatenate([rng.permutation(per) + 1 for _ in range(N_CATEGORIES)])
    popularity = rank.astype(np.float64) ** -cfg.item_popularity_zipf
    series = np.array(
        ["经典款", "Pro", "青春版", "旗舰款", "Max", "轻享版", "Plus", "礼盒装"], dtype=object
    )
    titles = np.array(
        [
            f"{CIRCLES[c].brand} {series[i % len(series)]} {i // len(series) + 1}号"
            for c, i in zip(circle, np.tile(np.arange(per), N_CATEGORIES), strict=True)
        ],
        dtype=object,
    )
    created = rng.integers(t_first, t_last, size=len(circle))
    return Items(circle=circle, price=price, created=created, title=titles, popularity=popularity)


@dataclass
class Posts:
    """Per-post arrays in ``created_at`` order (index = post number - 1)."""

    circle: np.ndarray
    author: np.ndarray
    item: np.ndarray  # -1 none
    order: np.ndarray  # -1 none (index into Orders after sorting)
    text: np.ndarray  # object
    image_count: np.ndarray
    created: np.ndarray  # epoch s
    # hidden
    kind: np.ndarray  # int8 KIND_CODE
    trust: np.ndarray  # int8 2..6
    quality: np.ndarray
    tier: np.ndarray
    appeal: np.ndarray
    source_corpus: np.ndarray  # object ('' none)
    source_row: np.ndarray  # -1 none
    source_label: np.ndarray  # -1 none
    source_post: np.ndarray  # -1 none: copy-paste source post index
    source_idx: np.ndarray  # -1 none: index into the review pool (or the SMS pool for promos)
    transforms: np.ndarray  # object, '+'-joined
    moderation: np.ndarray  # object, '|'-joined expected moderation labels
    filler_kind: np.ndarray  # object ('' for non-filler)


@dataclass
class Orders:
    user: np.ndarray
    item: np.ndarray
    created: np.ndarray


def _choose_authors(
    rng: np.random.Generator,
    circles: np.ndarray,
    cand: np.ndarray,
    weight: np.ndarray,
    acc: Accounts,
    state: np.ndarray,
) -> np.ndarray:
    """An author per post among ``cand``: ∝ weight × (interest in the circle + 0.02) × relation."""
    out = np.empty(len(circles), dtype=np.int64)
    if len(cand) == 0:
        raise ValueError("no candidate authors: the world is too small")
    for c in range(N_CATEGORIES):
        sel = np.flatnonzero(circles == c)
        if len(sel) == 0:
            continue
        p = weight * (acc.interest[cand, c] + 0.02) * (1.0 + 2.0 * (state[cand, c] > 0))
        out[sel] = rng.choice(cand, size=len(sel), p=p / p.sum())
    return out


def _merchant_of(rng: np.random.Generator, circles: np.ndarray, acc: Accounts) -> np.ndarray:
    merchants = np.flatnonzero(acc.kind == KIND_MERCHANT)
    m_circle = acc.merchant_circle[merchants]
    starts = np.searchsorted(m_circle, np.arange(N_CATEGORIES), side="left")
    counts = np.bincount(m_circle, minlength=N_CATEGORIES)
    pick = (rng.random(len(circles)) * counts[circles]).astype(np.int64)
    return merchants[starts[circles] + pick]


def make_posts(
    rng: np.random.Generator,
    text_rng: random.Random,
    n_posts: int,
    acc: Accounts,
    state: np.ndarray,
    items: Items,
    reviews: SourcePool,
    sms: SourcePool,
    cfg: WorldConfig,
) -> tuple[Posts, Orders]:
    """All posts and all orders (verified-purchase orders plus background orders)."""
    # --- calendar: day starts and per-kind daily weights from the campaign phases -------
    n_days = (cfg.sim_end - cfg.content_start).days
    starts = [cfg.content_start + timedelta(days=d) for d in range(n_days)]
    day_starts = np.array([epoch(s) for s in starts], dtype=np.int64)
    phases = [cfg.phase_of(s) for s in starts]
    diurnal = np.asarray(cfg.diurnal, dtype=np.float64)

    # --- how many of each kind, in which circle, at what time ------------------------------
    shares = np.array([cfg.kind_shares[k] for k in POST_KINDS])
    counts = rng.multinomial(n_posts, shares)
    pool_sizes = np.bincount(reviews.circle, minlength=N_CATEGORIES).astype(np.float64)
    circle_w = pool_sizes / pool_sizes.sum()  # circle share ∝ real texts available
    kind = np.repeat(np.arange(len(POST_KINDS)), counts).astype(np.int8)
    circle = rng.choice(N_CATEGORIES, size=n_posts, p=circle_w)
    created = np.empty(n_posts, dtype=np.int64)
    for k, name in enumerate(POST_KINDS):
        sel = kind == k
        w = np.array([cfg.phase_rates[p].get(name, 1.0) for p in phases])
        created[sel] = sample_times(rng, day_starts, w, int(sel.sum()), diurnal)
    order = np.lexsort((np.arange(n_posts), created))  # time order, stable
    kind, circle, created = kind[order], circle[order], created[order]

    author = np.full(n_posts, -1, dtype=np.int64)
    item = np.full(n_posts, -1, dtype=np.int64)
    text = np.empty(n_posts, dtype=object)
    src_idx = np.full(n_posts, -1, dtype=np.int64)  # index into reviews / sms pool
    source_post = np.full(n_posts, -1, dtype=np.int64)
    transforms = np.full(n_posts, "", dtype=object)
    moderation = np.full(n_posts, "", dtype=object)
    filler_kind = np.full(n_posts, "", dtype=object)
    verified = np.zeros(n_posts, dtype=bool)

    users = np.flatnonzero(acc.kind == KIND_USER)
    creators = np.flatnonzero(acc.kind == KIND_CREATOR)
    shills = np.flatnonzero(acc.shill)

    # --- genuine shares: real reviews of the circle's category ------------------------------
    gen = np.flatnonzero(kind == GENUINE)
    by_creator = rng.random(len(gen)) < cfg.creator_genuine_share
    g_c, g_u = gen[by_creator], gen[~by_creator]
    author[g_c] = _choose_authors(rng, circle[g_c], creators, acc.posting[creators], acc, state)
    author[g_u] = _choose_authors(rng, circle[g_u], users, acc.posting[users], acc, state)
    for c in range(N_CATEGORIES):
        sel = gen[circle[gen] == c]
        pool = np.flatnonzero(reviews.circle == c)
        # Cycle through a permutation so each text is reused as evenly as possible.
        reps = -(-len(sel) // len(pool)) if len(sel) else 0
        perm = np.concatenate([rng.permutation(pool) for _ in range(reps)]) if reps else pool[:0]
        src_idx[sel] = perm[: len(sel)]
    p_ver = np.where(
        acc.kind[author[gen]] == KIND_CREATOR,
        cfg.creator_verified_share,
        cfg.genuine_verified_share,
    )
    verified[gen] = rng.random(len(gen)) < p_ver
    tag = ~verified[gen] & (rng.random(len(gen)) < cfg.genuine_item_tag_share)
    item[gen[tag]] = items.pick(rng, circle[gen[tag]])

    # --- disguised ads: real positive reviews + woven promotion (L6) ------------------------
    dis = np.flatnonzero(kind == DISGUISED)
    u = rng.random(len(dis))
    who_shill = u < cfg.disguised_shill_share
    who_creator = (~who_shill) & (u < cfg.disguised_shill_share + cfg.disguised_creator_share)
    who_user = ~(who_shill | who_creator)
    shill_pool = shills if len(shills) else users
    author[dis[who_shill]] = _choose_authors(
        rng, circle[dis[who_shill]], shill_pool, np.ones(len(shill_pool)), acc, state
    )
    author[dis[who_creator]] = _choose_authors(
        rng, circle[dis[who_creator]], creators, acc.posting[creators], acc, state
    )
    author[dis[who_user]] = _choose_authors(
        rng, circle[dis[who_user]], users, acc.posting[users], acc, state
    )
    chars = np.array([len(t.strip()) for t in reviews.text])
    for c in range(N_CATEGORIES):
        sel = dis[circle[dis] == c]
        pool = np.flatnonzero(
            (reviews.circle == c) & (reviews.label == 1) & (chars >= cfg.disguised_min_chars)
        )
        if len(pool) == 0:
            pool = np.flatnonzero(reviews.circle == c)
        src_idx[sel] = pool[rng.integers(0, len(pool), size=len(sel))]
    verified[dis] = rng.random(len(dis)) < cfg.disguised_verified_share
    item[dis] = items.pick(rng, circle[dis])  # a disguised ad always pushes an item
    lo, hi = cfg.disguised_transforms
    n_tf = rng.integers(lo, hi + 1, size=len(dis))

    # --- merchant promotions: real promotional SMS (L5) -------------------------------------
    pro = np.flatnonzero(kind == PROMO)
    author[pro] = _merchant_of(rng, circle[pro], acc)
    src_idx[pro] = rng.integers(0, len(sms.text), size=len(pro))
    tagged = rng.random(len(pro)) < cfg.merchant_brand_tag_share
    promo_item = rng.random(len(pro)) < 0.8
    item[pro[promo_item]] = items.pick(rng, circle[pro[promo_item]])

    # --- publicity (L4) ---------------------------------------------------------------------
    pub = np.flatnonzero(kind == PUBLICITY)
    by_merchant = rng.random(len(pub)) < cfg.publicity_merchant_share
    author[pub[by_merchant]] = _merchant_of(rng, circle[pub[by_merchant]], acc)
    author[pub[~by_merchant]] = _choose_authors(
        rng, circle[pub[~by_merchant]], creators, acc.posting[creators], acc, state
    )
    pub_item = rng.random(len(pub)) < 0.5
    item[pub[pub_item]] = items.pick(rng, circle[pub[pub_item]])

    # --- filler (tier 0, spam) ----------------------------------------------------------------
    fil = np.flatnonzero(kind == FILLER)
    author[fil] = _choose_authors(rng, circle[fil], users, acc.posting[users], acc, state)
    f_names = list(cfg.filler_kind_shares)
    f_kind = rng.choice(
        len(f_names), size=len(fil), p=np.array([cfg.filler_kind_shares[n] for n in f_names])
    )
    filler_kind[fil] = np.array(f_names, dtype=object)[f_kind]
    fill_item = rng.random(len(fil)) < 0.5
    item[fil[fill_item]] = items.pick(rng, circle[fil[fill_item]])
    # Copy-paste: duplicate an earlier genuine post (any circle) verbatim.
    cp = fil[filler_kind[fil] == "copy_paste"]
    n_before = np.searchsorted(gen, cp)  # genuine posts earlier in time order
    has_src = n_before > 0
    pick = (rng.random(len(cp)) * n_before).astype(np.int64)
    source_post[cp[has_src]] = gen[pick[has_src]]
    filler_kind[cp[~has_src]] = "default_review"

    # --- texts ------------------------------------------------------------------------------
    text[gen] = reviews.text[src_idx[gen]]
    prices = np.where(item >= 0, items.price[np.maximum(item, 0)], 100.0)
    cid = [c.id for c in CIRCLES]
    for j, p in enumerate(dis):
        t, names, labels = disguise(
            text_rng, reviews.text[src_idx[p]], cid[circle[p]], float(prices[p]), int(n_tf[j])
        )
        text[p] = t
        transforms[p] = "+".join(names)
        moderation[p] = "|".join(sorted(labels))
    for j, p in enumerate(pro):
        raw = sms.text[src_idx[p]]
        text[p] = brand_tag(raw, CIRCLES[circle[p]].brand) if tagged[j] else raw
        transforms[p] = "brand_tag" if tagged[j] else ""
        moderation[p] = "ad|contact" if SMS_CONTACT.search(raw) else "ad"
    for p in pub:
        text[p] = publicity_text(text_rng, cid[circle[p]], CIRCLES[circle[p]].brand)
        transforms[p] = "publicity_template"
    for p in fil:
        fk = filler_kind[p]
        text[p] = text[source_post[p]] if fk == "copy_paste" else filler_text(text_rng, fk)
        transforms[p] = fk
        moderation[p] = "spam"

    # --- hidden quality, appeal and trust -----------------------------------------------------
    review_rows = np.flatnonzero(src_idx >= 0)
    review_rows = review_rows[(kind[review_rows] == GENUINE) | (kind[review_rows] == DISGUISED)]
    used = np.unique(src_idx[review_rows])
    noise = rng.standard_normal(len(reviews.text))  # one draw per source text: stable per text
    feats = quality_features(_series(reviews.text[used]))
    latent = np.zeros(len(reviews.text))
    latent[used] = quality_latent(feats, noise[used], cfg)
    used_chars = np.zeros(len(reviews.text))
    used_chars[used] = feats["chars"].to_numpy()

    quality = np.zeros(n_posts)
    appeal = np.zeros(n_posts)
    tier = np.zeros(n_posts, dtype=np.int8)
    jitter = rng.uniform(-0.05, 0.05, size=n_posts)
    t0, t1 = cfg.tier_thresholds
    q = latent[src_idx[gen]]
    quality[gen] = q
    appeal[gen] = q
    tier[gen] = np.where(q < t0, 1, np.where(q < t1, 2, 3))
    tier[gen[used_chars[src_idx[gen]] < 4]] = 0  # "好", "差" …: unusable even if genuine
    q = latent[src_idx[dis]]
    quality[dis] = 0.05 + 0.1 * q  # an ad is tier 0 by the rubric, whatever its prose
    appeal[dis] = 0.9 * q  # … but it still reads like a good review and draws clicks
    quality[pro] = 0.03
    appeal[pro] = 0.25 + jitter[pro]
    quality[pub] = 0.2
    tier[pub] = 1
    appeal[pub] = 0.35 + jitter[pub]
    quality[fil] = 0.02
    appeal[fil] = 0.1 + jitter[fil]
    cps = fil[source_post[fil] >= 0]
    appeal[cps] = appeal[source_post[cps]]
    appeal = np.clip(appeal, 0.0, 1.0)

    trust = np.full(n_posts, 3, dtype=np.int8)
    trust[acc.kind[author] == KIND_CREATOR] = 2
    for k, level in TRUST_BY_KIND.items():
        trust[kind == k] = level

    # --- images -----------------------------------------------------------------------------
    mean = np.array([cfg.images_mean[k] for k in POST_KINDS])[kind]
    mean = mean + np.where(kind == GENUINE, cfg.images_quality_slope * quality, 0.0)
    mean = mean * np.where(acc.kind[author] == KIND_CREATOR, cfg.creator_images_boost, 1.0)
    image_count = np.minimum(rng.poisson(mean), 9)

    # --- orders: verified purchases first, then background purchases --------------------------
    ver = np.flatnonzero(verified)
    item[ver] = items.pick(rng, circle[ver])
    lead = rng.uniform(*cfg.order_lead_days, size=len(ver)) * DAY
    v_created = created[ver] - np.ceil(lead).astype(np.int64)
    n_bg = round(cfg.orders_per_verified_post * len(ver))
    bg_circle = rng.choice(N_CATEGORIES, size=n_bg, p=circle_w)
    people = np.flatnonzero(acc.kind != KIND_MERCHANT)
    bg_user = _choose_authors(rng, bg_circle, people, np.ones(len(people)), acc, state)
    bg_item = items.pick(rng, bg_circle)
    t_lo = epoch(cfg.content_start) - int(cfg.order_lead_days[1] * DAY)
    bg_created = rng.integers(t_lo, epoch(cfg.sim_end) - 3600, size=n_bg)
    o_user = np.concatenate([author[ver], bg_user])
    o_item = np.concatenate([item[ver], bg_item])
    o_created = np.concatenate([v_created, bg_created])
    o_order = np.lexsort((np.arange(len(o_user)), o_created))
    rank = np.empty(len(o_order), dtype=np.int64)
    rank[o_order] = np.arange(len(o_order))
    post_order = np.full(n_posts, -1, dtype=np.int64)
    post_order[ver] = rank[: len(ver)]
    orders = Orders(user=o_user[o_order], item=o_item[o_order], created=o_created[o_order])

    src_corpus = np.full(n_posts, "", dtype=object)
    src_row = np.full(n_posts, -1, dtype=np.int64)
    src_label = np.full(n_posts, -1, dtype=np.int64)
    rv = np.flatnonzero((kind == GENUINE) | (kind == DISGUISED))
    src_corpus[rv] = reviews.corpus[src_idx[rv]]
    src_row[rv] = reviews.row[src_idx[rv]]
    src_label[rv] = reviews.label[src_idx[rv]]
    src_corpus[pro] = "spam_sms"
    src_row[pro] = sms.row[src_idx[pro]]
    src_label[pro] = sms.label[src_idx[pro]]

    posts = Posts(
        circle=circle,
        author=author,
        item=item,
        order=post_order,
        text=text,
        image_count=image_count,
        created=created,
        kind=kind,
        trust=trust,
        quality=quality,
        tier=tier,
        appeal=appeal,
        source_corpus=src_corpus,
        source_row=src_row,
        source_label=src_label,
        source_post=source_post,
        source_idx=src_idx,
        transforms=transforms,
        moderation=moderation,
        filler_kind=filler_kind,
    )
    return posts, orders


def _series(values: np.ndarray):  # type: ignore[no-untyped-def]

    return pd.Series(values, dtype="str")
