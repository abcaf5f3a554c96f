"""The spam set: every filler kind, hash-split filler, copies after their originals."""

from __future__ import annotations

import pandas as pd
import pytest

from quanzi.datasets.corpora import hash_split
from quanzi.datasets.moderation.spam import (
    FILLER_KINDS,
    SpamDataConfig,
    build_spam_dataset,
    make_filler,
)

CONFIG = SpamDataConfig(seed=4, n_train=400, n_dev=60, n_test=70, filler_share=0.5, copy_share=0.1)


@pytest.fixture
def spam(hosts: pd.DataFrame) -> pd.DataFrame:
    return build_spam_dataset(hosts, CONFIG)


def test_every_filler_kind_is_present_and_labelled_spam(spam: pd.DataFrame) -> None:
    assert set(FILLER_KINDS) | {"copy_paste", "real"} == set(spam["kind"])
    assert (spam[spam["kind"] != "real"]["label"] == 1).all()
    assert (spam[spam["kind"] == "real"]["label"] == 0).all()


def test_no_filler_text_is_in_two_splits(spam: pd.DataFrame) -> None:
    filler = spam[spam["kind"].isin(FILLER_KINDS)]
    assert (filler["norm"].map(hash_split) == filler["split"]).all()
    assert (filler.groupby("norm")["split"].nunique() == 1).all()


def test_real_reviews_never_equal_a_filler_text(spam: pd.DataFrame) -> None:
    real = set(spam[spam["kind"] == "real"]["norm"])
    assert not real & set(spam[spam["kind"].isin(FILLER_KINDS)]["norm"])


def test_copies_follow_an_earlier_original_of_the_same_split(spam: pd.DataFrame) -> None:
    real = spam[spam["kind"] == "real"]
    originals = real.set_index(real["corpus"] + ":" + real["row"].astype(str))
    copies = spam[spam["kind"] == "copy_paste"]
    assert len(copies) > 0
    for row in copies.itertuples():
        original = originals.loc[row.duplicate_of]
        assert original["split"] == row.split
        assert original["order"] < row.order
        assert row.norm.startswith(original["norm"][:-1])  # verbatim or lightly edited


@pytest.mark.parametrize("kind", FILLER_KINDS)
def test_filler_generators_are_seeded(kind: str) -> None:
    import random

    assert [make_filler(random.Random(9), kind) for _ in range(3)] == [
        make_filler(random.Random(9), kind) for _ in range(3)
    ]


def test_unknown_filler_kind_is_refused() -> None:
    import random

    with pytest.raises(ValueError, match="unknown filler kind"):
        make_filler(random.Random(0), "lorem")


def test_build_is_deterministic(hosts: pd.DataFrame, spam: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(spam, build_spam_dataset(hosts, CONFIG))


def test_every_latin_review_of_a_split_is_a_real_negative(hosts: pd.DataFrame) -> None:
    english = pd.DataFrame(
        [
            {
                "text": "Good location, the room is clean and quiet.",
                "label": 1,
                "category": "酒店",
                "split": "train",
                "corpus": "hotel",
                "row": 9001,
            },
            {
                "text": "waste of my money. My children are not interested.",
                "label": 0,
                "category": "书籍",
                "split": "test",
                "corpus": "online_shopping",
                "row": 9002,
            },
        ]
    ).assign(norm=lambda d: d["text"].str.lower())
    frame = pd.concat([hosts, english], ignore_index=True)
    config = SpamDataConfig(seed=4, n_train=20, n_dev=5, n_test=5)  # tiny samples
    spam = build_spam_dataset(frame, config)
    real = spam[spam["kind"] == "real_latin"]
    for row in english.itertuples():
        found = real[(real["corpus"] == row.corpus) & (real["row"] == row.row)]
        assert len(found) == 1 and found["split"].item() == row.split
        assert found["label"].item() == 0
    off = build_spam_dataset(
        frame, SpamDataConfig(seed=4, n_train=20, n_dev=5, n_test=5, min_latin=None)
    )
    assert "real_latin" not in set(off["kind"]) and len(off) == len(spam) - 2
    copied = set(spam.loc[spam["kind"] == "copy_paste", "duplicate_of"])
    assert not copied & {"hotel:9001", "online_shopping:9002"}  # never a copy source
