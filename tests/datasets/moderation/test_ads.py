"""The ad set: SMS keep their labels and splits; disguised ads are real reviews plus phrases."""

from __future__ import annotations

import pandas as pd
import pytest

from quanzi.datasets.moderation.ads import AD_TRANSFORMS, AdDataConfig, build_ad_dataset
from quanzi.datasets.world.content import DISGUISE_TRANSFORMS

CONFIG = AdDataConfig(seed=2, n_train=200, n_dev=40, n_test=60)


@pytest.fixture
def sms() -> pd.DataFrame:
    promos = [f"全场{n}折，进店有礼" for n in range(40)]
    normal = [f"明天{n}点开会别迟到" for n in range(160)]
    texts = promos + normal
    return pd.DataFrame(
        {
            "text": texts,
            "norm": texts,
            "label": [1] * 40 + [0] * 160,
            "category": "短信",
            "split": ["train", "train", "dev", "test"] * 50,
            "row": range(200),
        }
    )


@pytest.fixture
def ad(sms: pd.DataFrame, hosts: pd.DataFrame) -> pd.DataFrame:
    return build_ad_dataset(sms, hosts, CONFIG)


def test_sms_rows_keep_their_labels_and_corpus_splits(sms: pd.DataFrame, ad: pd.DataFrame) -> None:
    rows = ad[ad["source"] == "sms"].set_index("row")
    assert (rows["label"] == sms.set_index("row")["label"]).all()
    assert (rows["split"] == sms.set_index("row")["split"]).all()


def test_sms_stratified_split_is_70_30_with_the_same_positive_share(ad: pd.DataFrame) -> None:
    rows = ad[ad["source"] == "sms"]
    test = rows[rows["strat_split"] == "test"]
    assert len(test) == 60
    assert test["label"].mean() == pytest.approx(rows["label"].mean(), abs=0.02)


def test_disguised_ads_are_host_reviews_with_a_named_promotion(
    hosts: pd.DataFrame, ad: pd.DataFrame
) -> None:
    reviews = ad[ad["source"] == "review"]
    host = hosts.set_index("row")
    disguised, untouched = reviews[reviews["label"] == 1], reviews[reviews["label"] == 0]
    assert len(disguised) > 0 and len(untouched) > 0
    for row in disguised.itertuples():
        assert row.text != host.at[row.row, "text"]
        assert host.at[row.row, "label"] == 1  # disguised ads praise
        assert set(row.transform.split("+")) <= set(AD_TRANSFORMS)
    assert (untouched["text"] == untouched["row"].map(host["text"])).all()
    assert (reviews["split"] == reviews["row"].map(host["split"])).all()
    assert not set(reviews[reviews["split"] == "train"]["row"]) & set(
        reviews[reviews["split"] == "test"]["row"]
    )


def test_world_promotion_transforms_are_reused_not_copied() -> None:
    for name in ("coupon_code", "cashback", "link_in_bio", "price_push", "call_to_buy"):
        assert AD_TRANSFORMS[name] is DISGUISE_TRANSFORMS[name][0]
    assert "contact_diversion" not in AD_TRANSFORMS  # contact is its own label


def test_build_is_deterministic(sms: pd.DataFrame, hosts: pd.DataFrame, ad: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(ad, build_ad_dataset(sms, hosts, CONFIG))
