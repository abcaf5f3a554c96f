"""The quality gold set files: well-formed, one label per item and pass, a reason each."""

from __future__ import annotations

from quanzi.datasets.gold import TIERS, length_band, read_annotations


def test_gold_annotations_are_well_formed() -> None:
    ann = read_annotations()
    assert len(ann) > 0
    assert set(ann["tier"]) <= set(TIERS)
    assert set(ann["pass"]) <= {1, 2}
    assert ann["reason"].str.strip().str.len().min() > 0
    for _, group in ann.groupby("pass"):
        assert not group["gold_id"].duplicated().any()


def test_second_pass_items_were_annotated_by_someone_else() -> None:
    ann = read_annotations()
    first = ann[ann["pass"] == 1].set_index("gold_id")["annotator"]
    second = ann[ann["pass"] == 2].set_index("gold_id")["annotator"]
    shared = first.index.intersection(second.index)
    assert (first.loc[shared] != second.loc[shared]).all()


def test_length_bands_cover_all_lengths() -> None:
    assert [length_band(n) for n in (0, 19, 20, 79, 80, 5000)] == [
        "short",
        "short",
        "medium",
        "medium",
        "long",
        "long",
    ]
