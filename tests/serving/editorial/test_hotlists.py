"""Hot-list heat: Σ weight × exp(−age/τ) in SQL, on SQLite and PostgreSQL; overrides applied."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from quanzi.serving.editorial.errors import Invalid, NotFound
from quanzi.serving.editorial.hotlists import HotListParams, hot_list, set_override
from quanzi.storage.orm import Post

PARAMS = HotListParams(
    decay_hours=10.0,
    window_hours=48.0,
    interaction_weights={"like": 1.0, "share": 2.0, "report": -4.0},
)


def _world(f: Any) -> tuple[Any, Any]:
    circle = f.circle(id="c-1")
    viewer = f.user(id="v-1")
    now = f.start + timedelta(days=3)
    posts = {
        name: f.post(circle, viewer, id=name, created_at=f.start)
        for name in ("a", "b", "c", "d", "held")
    }
    posts["held"].status = "review"

    def at(hours: float) -> Any:
        return now - timedelta(hours=hours)

    f.interaction(viewer, posts["a"], "like", created_at=at(0))
    f.interaction(viewer, posts["a"], "share", created_at=at(10))
    f.interaction(viewer, posts["b"], "like", created_at=at(1))
    f.interaction(viewer, posts["b"], "like", created_at=at(2))
    f.interaction(viewer, posts["c"], "like", created_at=at(5))
    f.interaction(viewer, posts["c"], "impression", created_at=at(0))  # weight 0: ignored
    f.interaction(viewer, posts["c"], "like", created_at=at(60))  # outside the window
    f.interaction(viewer, posts["d"], "like", created_at=at(0))
    f.interaction(viewer, posts["d"], "report", created_at=at(0))  # net negative: dropped
    f.interaction(viewer, posts["held"], "share", created_at=at(0))  # not passed
    f.session.flush()
    return circle, now


def test_heat_is_the_decayed_weighted_sum(factory: Any) -> None:
    _, now = _world(factory)
    entries = hot_list(factory.session, "c-1", limit=10, now=now, params=PARAMS)
    expected = {
        "a": 1 + 2 * math.exp(-1),
        "b": math.exp(-0.1) + math.exp(-0.2),
        "c": math.exp(-0.5),
    }
    assert [e.post_id for e in entries] == ["a", "b", "c"]
    for e in entries:
        assert e.heat == pytest.approx(expected[e.post_id], rel=1e-6)
        assert e.base_heat == e.heat and e.override is None
    assert [e.rank for e in entries] == [1, 2, 3]


def test_overrides_pin_boost_remove_and_expire(factory: Any) -> None:
    _, now = _world(factory)
    s = factory.session
    factory.override(_post(s, "c"), "pin", value=1)
    factory.override(_post(s, "b"), "boost", value=3.0)
    factory.override(_post(s, "a"), "remove", value=0)
    factory.override(_post(s, "d"), "pin", value=2, expires_at=now - timedelta(minutes=1))
    entries = hot_list(s, "c-1", limit=10, now=now, params=PARAMS)
    assert [(e.post_id, e.override.action if e.override else None) for e in entries] == [
        ("c", "pin"),
        ("b", "boost"),
    ]
    boosted = entries[1]
    assert boosted.heat == pytest.approx(3 * boosted.base_heat)


def test_pins_past_the_end_go_last_and_limit_applies(factory: Any) -> None:
    _, now = _world(factory)
    factory.override(_post(factory.session, "c"), "pin", value=50)
    entries = hot_list(factory.session, "c-1", limit=10, now=now, params=PARAMS)
    assert [e.post_id for e in entries] == ["a", "b", "c"]
    assert [
        e.post_id for e in hot_list(factory.session, "c-1", limit=1, now=now, params=PARAMS)
    ] == ["a"]


def test_set_override_validates(factory: Any) -> None:
    _world(factory)
    other = factory.circle(id="c-2")
    factory.post(other, factory.user(), id="elsewhere")
    s = factory.session
    with pytest.raises(NotFound, match="circle 'c-9'"):
        set_override(s, "c-9", post_id="a", action="pin", value=1, expires_at=None, editor="e")
    with pytest.raises(NotFound, match="belongs to 'c-2'"):
        set_override(
            s, "c-1", post_id="elsewhere", action="pin", value=1, expires_at=None, editor="e"
        )
    with pytest.raises(Invalid, match="whole number"):
        set_override(s, "c-1", post_id="a", action="pin", value=1.5, expires_at=None, editor="e")
    with pytest.raises(Invalid, match="multiplier"):
        set_override(s, "c-1", post_id="a", action="boost", value=0, expires_at=None, editor="e")
    row = set_override(s, "c-1", post_id="a", action="boost", value=2, expires_at=None, editor="e")
    again = set_override(s, "c-1", post_id="a", action="pin", value=1, expires_at=None, editor="f")
    assert again.id == row.id and again.action == "pin" and again.editor == "f"


def _post(session: Any, post_id: str) -> Post:
    return session.get(Post, post_id)
