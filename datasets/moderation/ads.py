"""The labelled ``ad`` (广告营销) set: promotional SMS, and disguised ads in review language.

Two sources, one frame (``source`` column):

- ``sms``: every row of the promotional-SMS corpus with its own label (1 promotion, 0 normal)
  and its corpus hash split; ``strat_split`` adds the README's stratified 70/30 split
  (train/test) so the baseline can be compared with the published 0.968 F1.
- ``review``: real reviews. A share ``disguised_share`` of the sampled hosts (drawn from
  positive reviews: disguised ads praise) get 1–2 promotion phrases woven in by the named
  transforms below (label 1); the rest (drawn from all reviews) stay untouched (label 0).
  Splits follow the host's corpus split.

The promotion transforms are the circle world's (``quanzi.datasets.world.content``),
imported, plus two this task needs that the world does not have: ``recruitment`` and
``shop_promotion``. The world's ``contact_diversion`` is left out (contact is its own label,
see ``contact.py``), and so is ``scripted_superlative`` (praise alone is not an ad).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from quanzi.datasets.corpora import SPLITS
from quanzi.datasets.moderation.hosts import derive_seed, distinct_hosts, sample_split, weave_span
from quanzi.datasets.normalize import normalize
from quanzi.datasets.world.config import CIRCLES
from quanzi.datasets.world.content import DISGUISE_TRANSFORMS

AdBuilder = Callable[[random.Random, str, float], str]

RECRUITMENT_PHRASES = (
    "诚招代理，宝妈学生党在家就能做，日结{n}元",
    "招兼职，动动手指每天{n}+，有意私我",
    "招募体验官，免费试用还有佣金拿",
    "需要副业的姐妹看过来，零门槛月入{k}千",
)
SHOP_PROMOTION_PHRASES = (
    "全场{d}折，进店有礼",
    "关注店铺领{n}元券，新人再送小样",
    "本店新品上市，前{n}名下单送赠品",
    "店铺周年庆，满{k}00减{n}，欢迎进店选购",
)


def t_recruitment(rng: random.Random, circle: str, price: float) -> str:
    """A recruitment pitch (代理 / 兼职 / 副业), the SMS corpus's commonest promotion."""
    return rng.choice(RECRUITMENT_PHRASES).format(
        n=rng.choice((100, 200, 300, 500)), k=rng.randint(3, 9)
    )


def t_shop_promotion(rng: random.Random, circle: str, price: float) -> str:
    """A shop's own promotion: discounts, store coupons, opening gifts."""
    phrase = rng.choice(SHOP_PROMOTION_PHRASES)
    return phrase.format(d=rng.randint(5, 9), n=rng.choice((5, 10, 20, 50)), k=rng.randint(1, 5))


REUSED_FROM_WORLD = ("coupon_code", "cashback", "link_in_bio", "price_push", "call_to_buy")
AD_TRANSFORMS: dict[str, AdBuilder] = {
    **{name: DISGUISE_TRANSFORMS[name][0] for name in REUSED_FROM_WORLD},
    "recruitment": t_recruitment,
    "shop_promotion": t_shop_promotion,
}
# Typical price of each review category (the world's circles; 外卖 and SMS hosts added).
_CATEGORY_CIRCLE = {c.category: (c.id, c.price_median) for c in CIRCLES}
_DEFAULT_CIRCLE = ("c_books", 60.0)
_EXTRA_PRICES = {"外卖": 35.0}


@dataclass(frozen=True)
class AdDataConfig:
    """Sizes of the disguised-ad part (review hosts per split) and the shares."""

    seed: int = 13
    n_train: int = 8_000
    n_dev: int = 1_000
    n_test: int = 2_000
    disguised_share: float = 0.5
    two_transform_share: float = 0.3  # disguised rows that get two distinct transforms
    sms_test_size: float = 0.3  # the README's stratified 70/30

    def n_for(self, split: str) -> int:
        return {"train": self.n_train, "dev": self.n_dev, "test": self.n_test}[split]


def disguise_review(
    rng: random.Random, text: str, category: str, n_transforms: int = 1
) -> tuple[str, list[str]]:
    """Weave ``n_transforms`` distinct promotion phrases into a real review."""
    circle, price = _CATEGORY_CIRCLE.get(category, _DEFAULT_CIRCLE)
    price = _EXTRA_PRICES.get(category, price)
    names = rng.sample(list(AD_TRANSFORMS), n_transforms)
    for name in names:
        text, _, _ = weave_span(rng, text, AD_TRANSFORMS[name](rng, circle, price))
    return text, names


AD_COLUMNS = (
    "text",
    "norm",
    "label",
    "source",
    "transform",
    "split",
    "strat_split",
    "corpus",
    "row",
    "category",
)


def build_ad_dataset(
    sms: pd.DataFrame, reviews: pd.DataFrame, config: AdDataConfig | None = None
) -> pd.DataFrame:
    """The ``ad`` set from the SMS corpus frame and the real-review host frame."""
    cfg = config or AdDataConfig()
    sms_rows = sms.assign(source="sms", transform="", corpus="spam_sms").copy()
    strat = pd.Series("", index=sms_rows.index)
    if len(sms_rows) >= 4 and sms_rows["label"].nunique() == 2:
        _, test_idx = train_test_split(
            sms_rows.index,
            test_size=cfg.sms_test_size,
            stratify=sms_rows["label"],
            random_state=cfg.seed,
        )
        strat[:] = "train"
        strat[test_idx] = "test"
    sms_rows["strat_split"] = strat
    rows: list[dict[str, object]] = []
    pool = distinct_hosts(reviews)
    for split in SPLITS:
        n = cfg.n_for(split)
        n_ads = round(n * cfg.disguised_share)
        positives = sample_split(pool[pool["label"] == 1], split, n_ads, cfg.seed, "ad-hosts")
        rest = pool[~pool.index.isin(positives.index)]
        untouched = sample_split(rest, split, n - len(positives), cfg.seed, "ad-plain")
        rng = random.Random(derive_seed(cfg.seed, "ad-rows", split))
        for host in positives.itertuples(index=False):
            k = 2 if rng.random() < cfg.two_transform_share else 1
            text, names = disguise_review(rng, host.text, host.category, k)
            rows.append(
                {
                    "text": text,
                    "label": 1,
                    "transform": "+".join(names),
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                }
            )
        for host in untouched.itertuples(index=False):
            rows.append(
                {
                    "text": host.text,
                    "label": 0,
                    "transform": "",
                    "split": split,
                    "corpus": host.corpus,
                    "row": int(host.row),
                    "category": host.category,
                }
            )
    review_rows = pd.DataFrame(
        rows, columns=["text", "label", "transform", "split", "corpus", "row", "category"]
    )
    review_rows["norm"] = review_rows["text"].map(normalize)
    review_rows["source"] = "review"
    review_rows["strat_split"] = ""
    out = pd.concat([sms_rows[list(AD_COLUMNS)], review_rows[list(AD_COLUMNS)]], ignore_index=True)
    out["label"] = out["label"].astype(int)
    out["row"] = out["row"].astype(int)
    return out
