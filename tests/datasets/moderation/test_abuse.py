"""The review-domain offensive rows: abuse aimed at a person vs untouched complaints."""

from __future__ import annotations

import pandas as pd

from quanzi.datasets.moderation.abuse import (
    INSULTS,
    PREFIX_CURSES,
    TARGETS,
    AbuseDataConfig,
    build_abuse_dataset,
)

CONFIG = AbuseDataConfig(seed=3, n_train=120, n_dev=30)


def test_abuse_rows_hold_a_person_and_an_insult_inside_a_real_negative_review(
    hosts: pd.DataFrame,
) -> None:
    rows = build_abuse_dataset(hosts, CONFIG)
    abuse = rows[rows["kind"] == "abuse"]
    assert len(abuse) == 75 and (abuse["label"] == 1).all()
    by_key = hosts.set_index(["corpus", "row"])
    for row in abuse.itertuples():
        host = by_key.loc[(row.corpus, row.row)]
        assert host["label"] == 0  # complaint vocabulary sits on both sides
        assert row.snippet in row.text and row.text.replace(row.snippet, "", 1) != ""
        assert any(t in row.snippet for t in TARGETS)
        assert any(i in row.snippet for i in INSULTS + PREFIX_CURSES)


def test_complaint_rows_are_untouched_reviews_of_their_own_split(hosts: pd.DataFrame) -> None:
    rows = build_abuse_dataset(hosts, CONFIG)
    clean = rows[rows["kind"] == "complaint"]
    assert (clean["label"] == 0).all() and 0 < len(clean) <= 75  # fewer if a split is small
    merged = clean.merge(hosts, on=["corpus", "row"], suffixes=("", "_host"))
    assert (merged["text"] == merged["text_host"]).all()
    assert (merged["split"] == merged["split_host"]).all()
    assert (merged["label_host"] == 0).mean() > 0.5  # mostly complaints
    assert set(rows["split"]) == {"train", "dev"}  # COLD test stays the offensive test
    assert not set(rows["norm"][rows["kind"] == "abuse"]) & set(clean["norm"])


def test_abuse_rows_are_reproducible(hosts: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        build_abuse_dataset(hosts, CONFIG), build_abuse_dataset(hosts, CONFIG)
    )
