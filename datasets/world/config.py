"""Every size, rate and behaviour weight of the simulated circle world, in one typed config.

A world is a pure function of ``(WorldConfig, posts, seed)``: change a number here and the
world changes; nothing else holds a default. ``datasets/world/README.md`` explains each
choice; the tests check the observable consequences against ``Bounds``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# China Standard Time: simulated days start at local midnight; everything is stored in UTC.
CST = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True)
class CircleSpec:
    """One brand circle: id, the corpus category it draws real reviews from, brand name."""

    id: str
    category: str  # the online_shopping_10_cats category (corpus ``category`` column)
    brand: str
    name: str
    price_median: float  # yuan; item prices are lognormal around it


# The ten shopping categories of online_shopping_10_cats, one brand circle each. Brands are
# fictional except 蒙牛, whose reviews name the brand itself.
CIRCLES: tuple[CircleSpec, ...] = (
    CircleSpec("c_books", "书籍", "墨香书局", "墨香书局读书圈", 45.0),
    CircleSpec("c_tablets", "平板", "澜屏", "澜屏平板圈", 2200.0),
    CircleSpec("c_phones", "手机", "星讯", "星讯手机圈", 2800.0),
    CircleSpec("c_fruit", "水果", "果然鲜", "果然鲜水果圈", 60.0),
    CircleSpec("c_shampoo", "洗发水", "青丝语", "青丝语洗护圈", 70.0),
    CircleSpec("c_water_heaters", "热水器", "暖源", "暖源热水器圈", 1600.0),
    CircleSpec("c_dairy", "蒙牛", "蒙牛", "蒙牛乳品圈", 65.0),
    CircleSpec("c_clothing", "衣服", "衣见", "衣见服饰圈", 180.0),
    CircleSpec("c_computers", "计算机", "极算", "极算电脑圈", 5200.0),
    CircleSpec("c_hotels", "酒店", "栖旅", "栖旅酒店圈", 420.0),
)
N_CATEGORIES = len(CIRCLES)

POST_KINDS = ("genuine", "merchant_promo", "publicity", "disguised_ad", "filler")


def cst(year: int, month: int, day: int) -> datetime:
    """Local midnight of a calendar day in China, as an aware datetime."""
    return datetime(year, month, day, tzinfo=CST)


@dataclass(frozen=True)
class Bounds:
    """Statistics every world of >= 1k posts must satisfy (checked by the tests and `stats`)."""

    friend_degree_mean: tuple[float, float] = (4.0, 14.0)
    friendless_share: tuple[float, float] = (0.05, 0.40)
    # Heavy tail: the busiest user has many times the median (or mean) friend count.
    friend_degree_max_over_mean: float = 4.0
    creator_share: tuple[float, float] = (0.005, 0.06)
    # Heavy-tailed follower counts: the top creator has >= this many times the median creator.
    creator_followers_max_over_median: float = 4.0
    genuine_verified_share_tolerance: float = 0.08  # |observed - configured|
    brand_active_share: tuple[float, float] = (0.25, 0.75)
    ctr: tuple[float, float] = (0.02, 0.25)  # clicks / impressions
    like_per_click: tuple[float, float] = (0.08, 0.70)
    report_per_impression: tuple[float, float] = (0.0, 0.02)


@dataclass(frozen=True)
class WorldConfig:
    """All knobs of the generator, grouped in the order the build runs."""

    # --- calendar -------------------------------------------------------------------------
    # Posts start when the circles gather their first content (Sep, per the campaign
    # calendar); behaviour is simulated over the days around Double 11; the last
    # ``holdout_days`` days are held out for offline ranking evaluation.
    content_start: datetime = field(default_factory=lambda: cst(2026, 9, 1))
    sim_start: datetime = field(default_factory=lambda: cst(2026, 10, 27))
    sim_days: int = 30  # 2026-10-27 .. 2026-11-25 (CST)
    holdout_days: int = 3  # 2026-11-23 .. 2026-11-25 held out
    double11: datetime = field(default_factory=lambda: cst(2026, 11, 11))
    # Per-phase hold-out (0 = off, the layout above): instead of the last ``holdout_days``
    # days, hold out the last ``holdout_per_phase`` days of every campaign phase the
    # simulated days touch, so offline ranking has held-out requests in each phase. The
    # phases are the feed's calendar (``models/ranking/params.phase_for``; a test keeps the
    # two equal): (month, day) of the first day of each phase.
    holdout_per_phase: int = 0
    phase_starts: tuple[tuple[int, int], ...] = ((9, 1), (10, 15), (11, 1), (11, 11), (11, 12))
    # Relative activity per local hour 0..23 (posting and browsing): lunch and evening peaks.
    diurnal: tuple[float, ...] = (
        1.0,
        0.6,
        0.4,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        2.2,
        2.5,
        2.6,
        2.8,
        3.2,
        2.8,
        2.5,
        2.5,
        2.6,
        2.8,
        3.2,
        3.8,
        4.2,
        4.5,
        3.8,
        2.2,
    )

    # --- accounts --------------------------------------------------------------------------
    users_per_post: float = 0.5  # accounts (all kinds) per post; most accounts never post
    min_users: int = 200
    creator_share: float = 0.02  # of accounts: creators (达人/KOL)
    creator_certified_share: float = 0.6  # of creators: carry 达人认证
    shill_share: float = 0.01  # of ordinary users: sock puppets paid to post disguised ads
    merchants_per_circle: tuple[int, int] = (1, 3)  # inclusive range; first = flagship store
    # Follower counts (platform-wide, not only in-world): lognormal(log median, sigma).
    creator_followers: tuple[float, float] = (3000.0, 1.5)
    merchant_followers: tuple[float, float] = (80000.0, 0.8)
    user_followers: tuple[float, float] = (6.0, 1.0)
    interest_concentration: float = 0.35  # Dirichlet alpha over the 10 categories (peaky)
    # Daily probability of opening the app: Beta(a, b), mean a/(a+b) ~ 0.15.
    activity_beta: tuple[float, float] = (0.6, 3.4)
    # Posting propensity (who writes the posts): lognormal sigma; heavy-tailed.
    posting_sigma: float = 1.3
    creator_posting_boost: float = 8.0  # creators write this many times more than users

    # --- friend graph (Chung-Lu with lognormal weights + interest homophily) ---------------
    friend_mean_degree: float = 8.0  # target mean degree before dedup / isolates
    friend_weight_sigma: float = 1.1  # lognormal sigma of the expected-degree weights
    friend_isolate_share: float = 0.12  # users who never add friends (weight 0)
    friend_homophily: float = 0.6  # share of edges drawn inside one primary-interest group
    # --- follows (user -> creator / merchant) -----------------------------------------------
    follows_per_user: float = 3.0  # Poisson mean
    follow_merchant_share: float = 0.2  # of follows: the merchant of a circle the user is fan of

    # --- brand relations -------------------------------------------------------------------
    circles_per_user_extra: float = 0.8  # each user relates to 1 + Poisson(this) circles
    member_share: float = 0.35  # of fans: also a member (会员)
    active_base: float = 0.15  # P(relation active) = active_base + active_slope * activity
    active_slope: float = 2.5
    active_cap: float = 0.9

    # --- items and orders ------------------------------------------------------------------
    items_per_circle_per_kpost: float = 5.0  # items per circle per 1000 posts in the world
    min_items_per_circle: int = 5
    price_sigma: float = 0.5
    item_popularity_zipf: float = 1.1  # item choice ∝ rank^-s
    orders_per_verified_post: float = 3.0  # extra orders by buyers who never post about them
    order_lead_days: tuple[float, float] = (1.0, 20.0)  # order precedes its post by U(a, b) days

    # --- posts -----------------------------------------------------------------------------
    kind_shares: dict[str, float] = field(
        default_factory=lambda: {
            "genuine": 0.70,
            "merchant_promo": 0.08,
            "publicity": 0.05,
            "disguised_ad": 0.07,
            "filler": 0.10,
        }
    )
    creator_genuine_share: float = 0.15  # of genuine shares: written by creators (→ L2)
    genuine_verified_share: float = 0.60  # of genuine shares by users: order matched
    creator_verified_share: float = 0.35  # of genuine shares by creators (they get samples)
    disguised_verified_share: float = 0.3  # disguised ads with a matched order (刷单 brushing)
    genuine_item_tag_share: float = 0.7  # unverified genuine shares that still tag an item
    publicity_merchant_share: float = 0.7  # else written by a creator, openly as publicity
    disguised_shill_share: float = 0.5  # disguised-ad authors: shills / creators / users
    disguised_creator_share: float = 0.2
    disguised_transforms: tuple[int, int] = (1, 3)  # how many promotion transforms woven in
    disguised_min_chars: int = 15  # only reviews at least this long get disguised
    merchant_brand_tag_share: float = 0.5  # merchant promos prefixed with 【brand】
    filler_kind_shares: dict[str, float] = field(
        default_factory=lambda: {
            "repeated_chars": 0.25,
            "default_review": 0.25,
            "template": 0.2,
            "random_chars": 0.1,
            "copy_paste": 0.2,
        }
    )
    # Mean images per post by kind (Poisson, capped at 9); genuine ones grow with quality.
    images_mean: dict[str, float] = field(
        default_factory=lambda: {
            "genuine": 1.2,
            "merchant_promo": 2.0,
            "publicity": 1.5,
            "disguised_ad": 2.5,
            "filler": 0.1,
        }
    )
    images_quality_slope: float = 2.5  # extra mean images per unit of quality (genuine)
    creator_images_boost: float = 1.5

    # Campaign phases: multipliers on each kind's daily posting rate (see README).
    phase_rates: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            # phase: kind -> multiplier
            "gather": {},  # Sep 1 - Oct 31: baseline 1.0
            "warmup": {
                "merchant_promo": 2.5,
                "publicity": 1.5,
                "disguised_ad": 1.8,
                "genuine": 1.2,
            },  # Nov 1 - 10: guides, pre-sales
            "peak": {
                "merchant_promo": 3.0,
                "disguised_ad": 2.0,
                "genuine": 1.5,
                "filler": 1.5,
            },  # Nov 11
            "after": {"genuine": 1.8, "filler": 1.6, "merchant_promo": 0.8},  # Nov 12 - 20
            "tail": {"genuine": 1.3},  # Nov 21 onward: usage experience, after-sales
        }
    )

    # --- hidden quality of genuine shares (a simulation latent, not a gold label) ----------
    # z = len_w * ln(1 + chars / 10) + spec_w * min(specifics, spec_cap)
    #     - generic_w * [short generic praise] + N(0, noise); score = sigmoid(z - center)
    quality_len_w: float = 0.9
    quality_spec_w: float = 0.45
    quality_spec_cap: int = 6
    quality_generic_w: float = 0.8
    quality_noise: float = 0.5
    quality_center: float = 2.6
    tier_thresholds: tuple[float, float] = (0.35, 0.65)  # score < t0 → 1, < t1 → 2, else 3

    # --- behaviour model -------------------------------------------------------------------
    traffic_phase: dict[str, float] = field(
        default_factory=lambda: {
            "gather": 1.0,
            "warmup": 1.3,
            "peak": 2.0,
            "after": 1.4,
            "tail": 1.0,
        }
    )
    silent_open_factor: float = 0.35  # users whose relations are all silent open less
    feed_length: int = 12  # positions per feed request
    feed_draws: int = 24  # freshness-weighted draws per request before de-duplication
    # Social sources of the logging policy (like a friends/following source in a feed
    # mixer): per request, this many random friends / followed accounts are picked and one
    # of their 3 latest posts in the circle (before the request, at most 7 days old) is
    # put first in line.
    feed_friend_draws: int = 2
    feed_follow_draws: int = 1
    feed_social_recent: int = 3
    feed_social_max_age_days: float = 7.0
    feed_half_life_days: float = 3.0  # logging policy samples ∝ 2^(-age / half-life)
    active_circle_weight: float = 2.0  # session circle choice ∝ interest × this if active
    silent_circle_weight: float = 0.5
    unrelated_circle_weight: float = 0.05
    position_eta: float = 0.7  # P(examine position k, 0-based) = (k + 1)^-eta
    # Exploration bucket: this share of feed requests (drawn per request from its own
    # random stream) is shown in a uniformly random order instead of newest first, and
    # logged as such (``requests.parquet``). Same posts, same examination and click model:
    # only the order differs, so offline evaluation on these requests carries no
    # position-order bias. 0 = no bucket, and the world is exactly what it was without it.
    explore_fraction: float = 0.0
    # Click logit on an examined impression.
    click_bias: float = -1.6
    click_appeal_w: float = 3.0  # × (appeal - 0.5)
    click_interest_w: float = 0.6  # × ln(10 × interest in the post's category)
    click_friend_w: float = 1.2  # author is the viewer's friend
    click_follow_w: float = 0.6  # viewer follows the author
    click_age_w: float = -0.12  # per day of post age
    click_user_sigma: float = 0.5  # per-user click propensity, N(0, sigma) on the logit
    # Conditional on a click: logits (bias, quality weight on (quality - 0.5), friend weight).
    like_logit: tuple[float, float, float] = (-1.0, 3.0, 1.0)
    favourite_logit: tuple[float, float, float] = (-2.2, 3.5, 0.0)
    comment_logit: tuple[float, float, float] = (-2.8, 1.5, 1.5)
    share_logit: tuple[float, float, float] = (-3.2, 2.0, 1.0)
    # On an examined impression: logits (bias, promo weight, filler weight).
    hide_logit: tuple[float, float, float] = (-5.0, 2.5, 2.0)
    report_logit: tuple[float, float, float] = (-7.0, 3.0, 2.0)

    bounds: Bounds = field(default_factory=Bounds)

    def __post_init__(self) -> None:
        total = sum(self.kind_shares.values())
        if set(self.kind_shares) != set(POST_KINDS) or abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"kind_shares must cover {POST_KINDS} and sum to 1, got {self.kind_shares}"
            )
        if abs(sum(self.filler_kind_shares.values()) - 1.0) > 1e-9:
            raise ValueError("filler_kind_shares must sum to 1")
        if not 0 < self.holdout_days < self.sim_days:
            raise ValueError("holdout_days must be between 1 and sim_days - 1")
        if self.holdout_per_phase < 0:
            raise ValueError("holdout_per_phase must be >= 0")
        if self.holdout_per_phase and len(self.held_day_indices()) >= self.sim_days - 1:
            raise ValueError(
                f"holdout_per_phase {self.holdout_per_phase} holds out (nearly) every "
                f"simulated day of {self.sim_days}: lower it or simulate more days"
            )
        if self.sim_start <= self.content_start:
            raise ValueError("sim_start must come after content_start")
        if self.feed_draws < self.feed_length:
            raise ValueError("feed_draws must be >= feed_length")
        if not 0.0 <= self.explore_fraction <= 1.0:
            raise ValueError(f"explore_fraction must be in [0, 1], got {self.explore_fraction}")

    # Derived calendar values -----------------------------------------------------------------
    @property
    def sim_end(self) -> datetime:
        return self.sim_start + timedelta(days=self.sim_days)

    @property
    def cutoff(self) -> datetime:
        """First held-out instant: with the default layout, interactions at or after it are
        evaluation data; with ``holdout_per_phase``, those of ``held_day_indices`` are."""
        return self.sim_start + timedelta(days=self.held_day_indices()[0])

    def held_day_indices(self) -> list[int]:
        """Simulated day numbers (0 = ``sim_start``) whose interactions are held out: the
        last ``holdout_days``, or the last ``holdout_per_phase`` of each campaign phase."""
        if not self.holdout_per_phase:
            return list(range(self.sim_days - self.holdout_days, self.sim_days))
        phase = [
            self.calendar_phase(self.sim_start + timedelta(days=d)) for d in range(self.sim_days)
        ]
        held: list[int] = []
        for d in range(self.sim_days):
            # a phase's last simulated day: the next day is another phase, or the sim ends
            if d + 1 == self.sim_days or phase[d + 1] != phase[d]:
                first = d
                while (
                    first > 0
                    and phase[first - 1] == phase[d]
                    and d - first + 1 < self.holdout_per_phase
                ):
                    first -= 1
                held.extend(range(first, d + 1))
        return held

    def calendar_phase(self, day_start: datetime) -> int:
        """Index into ``phase_starts`` of the feed-calendar phase of a local day (−1: the
        months before the first start, i.e. the off season)."""
        local = day_start.astimezone(CST)
        key = (local.month, local.day)
        out = -1
        for i, start in enumerate(self.phase_starts):
            if key >= start:
                out = i
        return out

    def phase_of(self, day_start: datetime) -> str:
        """The campaign phase (domain.md calendar) of the local day starting at ``day_start``."""
        d11 = self.double11
        if day_start < d11 - timedelta(days=10):
            return "gather"
        if day_start < d11:
            return "warmup"
        if day_start < d11 + timedelta(days=1):
            return "peak"
        if day_start < d11 + timedelta(days=10):
            return "after"
        return "tail"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as UTC ISO strings), saved in the world's hidden folder."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat()
            elif isinstance(value, Bounds):
                value = asdict(value)
            out[f.name] = value
        if self.explore_fraction == 0.0:  # worlds without a bucket keep their config byte-identical
            del out["explore_fraction"]
        if not self.holdout_per_phase:  # likewise for the default (last days) hold-out
            del out["holdout_per_phase"], out["phase_starts"]
        return out
