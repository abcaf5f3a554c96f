"""The near-duplicate edit procedure is deterministic and applies every documented edit."""

from __future__ import annotations

from quanzi.datasets.encoder_edits import EMOJI, near_duplicate

REVIEW = "这款手机拍照效果很好，电池也很耐用。物流速度快，包装完好，推荐购买！"


def test_same_text_and_seed_give_the_same_copy() -> None:
    assert near_duplicate(REVIEW, seed=3) == near_duplicate(REVIEW, seed=3)


def test_another_seed_gives_another_copy() -> None:
    assert near_duplicate(REVIEW, seed=1) != near_duplicate(REVIEW, seed=2)


def test_copy_is_edited_truncated_and_carries_one_emoji() -> None:
    copy = near_duplicate(REVIEW)
    assert copy != REVIEW
    assert sum(copy.count(e) for e in EMOJI) == 1
    stripped = copy
    for e in EMOJI:
        stripped = stripped.replace(e, "")
    assert len(stripped) == len(REVIEW) - int(len(REVIEW) * 0.15)


def test_text_without_punctuation_gets_one_appended_before_emoji() -> None:
    copy = near_duplicate("好")
    stripped = copy
    for e in EMOJI:
        stripped = stripped.replace(e, "")
    assert stripped in ("好！", "好～")
