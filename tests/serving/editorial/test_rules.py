"""circle_rule_hits: matched after normalisation, spans in the original text, own circle only."""

from __future__ import annotations

from typing import Any

import pytest

from quanzi.serving.editorial.errors import Invalid
from quanzi.serving.editorial.rules import (
    CircleRuleCache,
    circle_rule_hits,
    get_rules,
    get_rules_of,
    normalize_terms,
    replace_rules,
)
from quanzi.storage.db import engine_from_settings, session_factory
from quanzi.storage.orm import CircleRule


def test_hits_match_normalised_spellings_with_original_spans(factory: Any) -> None:
    factory.circle(id="c-1")
    replace_rules(factory.session, "c-1", blocked=["ＶＸ", "加微信"], review=["代購"])
    text = "想要的 加 微信吧！或者 ｖｘ：abc，代购也行，再说一次vX"
    hits = circle_rule_hits(factory.session, "c-1", text)
    assert [(h.term, h.action, text[h.start : h.end]) for h in hits] == [
        ("VX", "block", "ｖｘ"),
        ("代购", "review", "代购"),
        ("VX", "block", "vX"),
    ]


def test_traditional_and_zero_width_spellings_still_hit(factory: Any) -> None:
    factory.circle(id="c-1")
    replace_rules(factory.session, "c-1", blocked=["代购"], review=[])
    text = "專業代\u200b購，私聊"
    [hit] = circle_rule_hits(factory.session, "c-1", text)
    assert text[hit.start : hit.end] == "代\u200b購"


def test_a_circles_terms_never_touch_another_circle(factory: Any) -> None:
    factory.circle(id="c-1")
    factory.circle(id="c-2")
    replace_rules(factory.session, "c-1", blocked=["拼单"], review=[])
    assert circle_rule_hits(factory.session, "c-2", "一起拼单") == []
    assert len(circle_rule_hits(factory.session, "c-1", "一起拼单")) == 1


def test_replace_rules_replaces_and_clears(factory: Any) -> None:
    factory.circle(id="c-1")
    replace_rules(factory.session, "c-1", blocked=["a1"], review=["b2"])
    replace_rules(factory.session, "c-1", blocked=["c3"], review=[])
    terms = factory.session.query(CircleRule.term).filter_by(circle_id="c-1").all()
    assert [t for (t,) in terms] == ["c3"]
    assert replace_rules(factory.session, "c-1", blocked=[], review=[]) == ((), [])


@pytest.mark.parametrize(
    ("blocked", "review", "message"),
    [
        (["  "], [], "empty after normalisation"),
        (["x" * 51], [], "longer than 50"),
        (["VX"], ["ｖｘ"], "repeats 'VX'"),
    ],
)
def test_terms_that_cannot_match_are_left_out_with_the_reason(
    blocked: list[str], review: list[str], message: str
) -> None:
    terms, dropped = normalize_terms([*blocked, "加微信"], review)
    assert len(dropped) == 1 and message in dropped[0]
    assert ("加微信", "block") in terms
    assert len(terms) == 1 + (message.startswith("repeats"))


def test_more_terms_than_a_list_holds_are_refused() -> None:
    with pytest.raises(Invalid, match="at most 200"):
        normalize_terms([f"t{i}" for i in range(201)], [])


def test_cache_serves_rules_until_invalidated(settings: Any, seed: Any) -> None:
    seed(lambda f: f.rule(f.circle(id="c-1"), "团购"))
    engine = engine_from_settings(settings)
    try:
        cache = CircleRuleCache(session_factory(engine), ttl_s=60)
        assert [h.term for h in circle_rule_hits(cache, "c-1", "团购价")] == ["团购"]
        seed(lambda f: replace_rules(f.session, "c-1", blocked=["秒杀"], review=[]))
        assert [h.term for h in circle_rule_hits(cache, "c-1", "团购价")] == ["团购"]
        cache.invalidate("c-1")
        assert circle_rule_hits(cache, "c-1", "团购价") == []
    finally:
        engine.dispose()


def test_rules_of_several_circles_in_one_read_match_each_circles_own(factory: Any) -> None:
    for cid in ("c-1", "c-2", "c-3"):
        factory.circle(id=cid)
    replace_rules(factory.session, "c-1", blocked=["加微信", "代购"], review=["私聊"])
    replace_rules(factory.session, "c-2", blocked=[], review=["团购"])
    together = get_rules_of(factory.session, ["c-3", "c-2", "c-1"])
    assert together == {c: get_rules(factory.session, c) for c in ("c-1", "c-2", "c-3")}
    assert together["c-3"] == () and len(together["c-1"]) == 3
