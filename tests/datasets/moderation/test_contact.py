"""The contact set: leak-free splits, held-out transforms only in test, hard negatives."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from quanzi.datasets.moderation.contact import (
    LOOKALIKES,
    ContactDataConfig,
    build_contact_dataset,
    uses_heldout,
)
from quanzi.datasets.moderation.obfuscation import HELDOUT_TRANSFORMS, TRAIN_TRANSFORMS
from quanzi.models.moderation.detectors import detect_contact

CONFIG = ContactDataConfig(seed=3, n_train=300, n_dev=60, n_test=70)


@pytest.fixture
def contact(hosts: pd.DataFrame) -> pd.DataFrame:
    return build_contact_dataset(hosts, CONFIG)


def test_build_is_deterministic_by_seed(hosts: pd.DataFrame, contact: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(contact, build_contact_dataset(hosts, CONFIG))
    other = build_contact_dataset(
        hosts, ContactDataConfig(seed=4, n_train=300, n_dev=60, n_test=70)
    )
    assert not contact["text"].equals(other["text"])


def test_splits_follow_the_source_text_split(hosts: pd.DataFrame, contact: pd.DataFrame) -> None:
    source_split = hosts.set_index("row")["split"]
    assert (contact["row"].map(source_split) == contact["split"]).all()
    by_split = {s: set(part["row"]) for s, part in contact.groupby("split")}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["dev"]
    assert contact["row"].is_unique  # each host text used once


def test_train_and_dev_never_see_a_heldout_transform(contact: pd.DataFrame) -> None:
    positives = contact[contact["label"] == 1]
    seen = positives[positives["split"].isin(("train", "dev"))]
    assert set(seen["transform"]) <= set(TRAIN_TRANSFORMS)
    assert not seen["base_transforms"].map(uses_heldout).any()
    heldout = positives[positives["group"] == "heldout"]
    assert (heldout["split"] == "test").all()
    assert set(heldout["transform"]) <= set(HELDOUT_TRANSFORMS)
    assert heldout["base_transforms"].map(uses_heldout).all()


def test_test_set_has_both_transform_groups(contact: pd.DataFrame) -> None:
    groups = contact[(contact["split"] == "test") & (contact["label"] == 1)]["group"]
    assert set(groups) == {"heldout", "train"}


def test_positive_span_points_at_the_woven_snippet(contact: pd.DataFrame) -> None:
    positives = contact[contact["label"] == 1]
    assert len(positives) > 0
    for row in positives.itertuples():
        assert row.text[row.span_start : row.span_end] == row.snippet


def test_negatives_are_real_texts_and_lookalikes(
    hosts: pd.DataFrame, contact: pd.DataFrame
) -> None:
    host_text = hosts.set_index("row")["text"]
    plain = contact[contact["kind"] == "plain"]
    assert (plain["text"] == plain["row"].map(host_text)).all()
    looks = contact[contact["kind"] == "lookalike"]
    assert len(looks) > 0 and (looks["label"] == 0).all()
    assert looks.apply(lambda r: r["snippet"] in r["text"], axis=1).all()


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_lookalikes_are_clean_for_the_detectors(name: str) -> None:
    rng = random.Random(name)
    for _ in range(25):
        phrase = LOOKALIKES[name](rng)
        assert detect_contact(phrase) == [], phrase


def test_shares_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match="positive_share"):
        ContactDataConfig(positive_share=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        ContactDataConfig(positive_share=0.7, lookalike_share=0.5)
