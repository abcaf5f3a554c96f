"""The live rescore bench's bookkeeping: which changes it follows and how it times them."""

from __future__ import annotations

import pytest

from quanzi.evaluation.rescore_live_bench import (
    Observations,
    changed_posts,
    hot_list_times,
    percentiles,
)


def test_only_changes_across_pass_are_followed() -> None:
    before = {"a": ("pass", "c1", 0.0), "b": ("reject", "c1", 0.0), "c": ("review", "c2", 0.0)}
    now = {"a": ("reject", "c1", 5.0), "b": ("pass", "c1", 6.0), "c": ("reject", "c2", 7.0)}
    # review → reject shows nowhere: both hidden from the feed and the hot lists.
    assert changed_posts(before, now) == {"a": ("reject", "c1", 5.0), "b": ("pass", "c1", 6.0)}


def test_hot_list_time_is_from_the_write_until_the_list_agrees_for_good() -> None:
    changed = {
        "out": ("reject", "c1", 10.0),  # listed before: must leave
        "in": ("pass", "c1", 10.0),  # listed at the end: must enter
        "quiet": ("pass", "c1", 10.0),  # never listed (no engagement): not followed
        "unlisted": ("reject", "c1", 10.0),  # not listed before: nothing to leave
    }
    obs = Observations()
    obs.hot["c1"] = [
        (9.0, frozenset({"out"})),
        (10.5, frozenset({"out"})),  # the write is in, the list not yet
        (11.0, frozenset({"in"})),
        (11.5, frozenset()),  # flickered out: "in" is only there for good from 12.0
        (12.0, frozenset({"in"})),
    ]
    times = hot_list_times(
        changed, {"c1": frozenset({"out"})}, {"c1": frozenset({"in"})}, obs, final_at=13.0
    )
    assert times == {"out": 1.0, "in": 2.0}


def test_percentiles_of_nothing_and_of_times() -> None:
    assert percentiles([]) == {"n": 0}
    figures = percentiles([0.1] * 99 + [2.0])
    assert figures["n"] == 100 and figures["max_s"] == 2.0 and figures["p50_s"] == 0.1


def test_hot_list_time_from_the_commit_when_known() -> None:
    changed = {"out": ("reject", "c1", 10.0)}
    obs = Observations()
    obs.hot["c1"] = [(10.5, frozenset({"out"})), (11.0, frozenset()), (12.0, frozenset())]
    before, after = {"c1": frozenset({"out"})}, {"c1": frozenset()}
    assert hot_list_times(changed, before, after, obs, 13.0) == {"out": 1.0}  # from the write
    since = {"out": 10.8}  # committed after 10.8: the list followed within 0.2 s
    assert hot_list_times(changed, before, after, obs, 13.0, since)["out"] == pytest.approx(0.2)
