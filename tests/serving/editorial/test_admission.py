"""Admission rules per domain.md: flagship store, well known, any one fan-base threshold."""

from __future__ import annotations

import pytest

from quanzi.serving.editorial.admission import FAN_THRESHOLDS, evaluate

NO_FANS: dict[str, int | None] = dict.fromkeys(FAN_THRESHOLDS)


@pytest.mark.parametrize(
    ("channel", "threshold"),
    [
        ("weibo_fans", 50_000),
        ("wechat_fans", 10_000),
        ("community_users", 50_000),
        ("weitao_fans", 200_000),
        ("tieba_members", 50_000),
    ],
)
def test_any_one_channel_at_its_threshold_meets_the_fan_rule(channel: str, threshold: int) -> None:
    at = evaluate(has_tmall_flagship=True, well_known=True, fans={**NO_FANS, channel: threshold})
    below = evaluate(
        has_tmall_flagship=True, well_known=True, fans={**NO_FANS, channel: threshold - 1}
    )
    assert [r.passed for r in at] == [True, True, True]
    assert [r.passed for r in below] == [True, True, False]
    assert "no channel meets its threshold" in below[2].detail


def test_flagship_and_renown_are_each_required() -> None:
    fans = {**NO_FANS, "weibo_fans": 10**6}
    results = evaluate(has_tmall_flagship=False, well_known=False, fans=fans)
    assert [(r.rule, r.passed) for r in results] == [
        ("tmall_flagship_store", False),
        ("well_known", False),
        ("fan_base", True),
    ]
    assert "flagship store is required" in results[0].detail


def test_unknown_channel_is_an_error() -> None:
    with pytest.raises(ValueError, match="douyin_fans"):
        evaluate(has_tmall_flagship=True, well_known=True, fans={"douyin_fans": 1})
