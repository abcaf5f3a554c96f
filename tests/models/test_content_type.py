"""Content type rules: one hand-written text per type, and the order they are checked in."""

from __future__ import annotations

import pytest

from quanzi.models.content_type import CODE, CONTENT_TYPES, infer_content_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("双十一前必看：洗发水怎么选，油头和干头各推荐两款", "guide"),
        ("这款和上一代对比，续航多了两小时，值得买", "guide"),
        ("用了三个月，头皮屑少了很多，回购第二瓶", "usage"),
        ("一直在用这个牌子的热水器，冬天洗澡水温很稳", "usage"),
        ("请问热水器显示E3是什么故障？客服一直不回", "question"),
        ("收到两天就漏水了怎么办？能换吗", "question"),
        ("刚收到，包装很好，物流很快，晒一下", "share"),
        ("", "share"),
    ],
)
def test_infer_content_type(text: str, expected: str) -> None:
    assert infer_content_type(text) == expected


def test_a_complaint_with_a_question_mark_is_not_an_after_sales_question() -> None:
    assert infer_content_type("包装能用点心吗？送来都爆开了") == "share"


def test_codes_keep_zero_for_unknown() -> None:
    assert CONTENT_TYPES[0] == "unknown" and CODE["guide"] == 1
