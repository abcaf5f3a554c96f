"""``policy.is_copy``: a near embedding is a copy only when the texts overlap too."""

from __future__ import annotations

from quanzi.models.moderation.policy import is_copy

REVIEW = "房间宽敞，条件不错。周围环境也可以。周围无合适的公交车，出行需要用出租车。"


def test_a_verbatim_or_lightly_edited_copy_is_a_copy() -> None:
    assert is_copy(REVIEW, REVIEW)
    assert is_copy(REVIEW + "👍", REVIEW.replace("，", ","))
    assert is_copy("反复开关机", "反复开关机")  # short, but specific: still a copy
    assert is_copy("还不错～～～～", "还不错～")  # three characters is the shortest copy


def test_two_buyers_praising_the_same_thing_are_not_copies() -> None:
    assert not is_copy("裤子很合身，质量很好，非常喜欢这款裤子。", "裤子穿上很舒服，质量也不错。")
    assert not is_copy("不错，苹果很脆，也很甜，挺好吃的", "好吃的苹果，又甜又脆，好喜欢吃呀！")


def test_a_stock_phrase_is_nobodys_copy() -> None:
    assert not is_copy("差评！！！！！！！！", "差评！！！")
    assert not is_copy("好评好评", "好评")
