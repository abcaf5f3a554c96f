"""The poller survives a failing step, keeps a fixed rate and stops promptly."""

from __future__ import annotations

import itertools
import logging
import threading
import time

from quanzi.polling import Poller


def test_a_failing_step_is_retried_and_stop_ends_the_thread() -> None:
    calls: list[int] = []
    done = threading.Event()

    def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database blip")
        done.set()

    poller = Poller("test-poller", step, 0.01, logging.getLogger("test"))
    poller.start()
    poller.start()  # idempotent: still one thread
    assert done.wait(5), "the step was not retried after failing"
    assert sum(t.name == "test-poller" for t in threading.enumerate()) == 1
    poller.stop()
    assert not poller.running
    n = len(calls)
    time.sleep(0.05)
    assert len(calls) == n  # nothing runs after stop


def test_the_interval_runs_start_to_start_and_a_slow_step_is_not_caught_up() -> None:
    """A step of 60 % of the interval leaves 40 % to wait (start to start = the interval);
    a step longer than the interval is followed by a short pause, not a burst."""
    starts: list[float] = []
    enough = threading.Event()

    def step() -> None:
        starts.append(time.monotonic())
        time.sleep(0.08 if len(starts) < 6 else 0.3)
        if len(starts) == 8:
            enough.set()

    poller = Poller("rate-poller", step, 0.2, logging.getLogger("test"))
    poller.start()
    assert enough.wait(10)
    poller.stop()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # fixed rate while steps fit (a fixed wait after each step gave 0.28 s)
    assert all(0.18 <= g <= 0.25 for g in gaps[:4]), gaps
    # a step longer than the interval: step + a tenth of the interval (not step + 0.2 s)
    assert all(0.3 <= g <= 0.42 for g in gaps[5:]), gaps


def test_a_staleness_bound_polls_every_half_interval_while_polls_are_short() -> None:
    """With ``bound_staleness`` a poll of 0.04 s in a 0.2 s interval starts the next one
    0.1 s after it started: a change read just after one poll start is applied within half
    the interval plus one poll, leaving the other half for a busy machine (at a plain fixed
    rate the gap is the interval, 0.2 s)."""
    gaps = _bound_gaps(0.04, 6)
    assert all(0.09 <= g <= 0.14 for g in gaps), gaps


def test_a_staleness_bound_brings_a_slow_poll_forward_by_its_run_time() -> None:
    """A poll of 0.13 s in a 0.2 s interval: the bound wants the next start 0.07 s after
    this one, inside the run, so it starts a tenth of the interval after the run ends
    (gap ≈ 0.15 s), not at the plain rate (0.2 s)."""
    gaps = _bound_gaps(0.13, 5)
    assert all(0.14 <= g <= 0.2 for g in gaps), gaps


def _bound_gaps(run_s: float, polls: int) -> list[float]:
    starts: list[float] = []
    enough = threading.Event()

    def step() -> None:
        starts.append(time.monotonic())
        time.sleep(run_s)
        if len(starts) == polls:
            enough.set()

    poller = Poller("bound-poller", step, 0.2, logging.getLogger("test"), bound_staleness=True)
    poller.start()
    assert enough.wait(10)
    poller.stop()
    return [b - a for a, b in itertools.pairwise(starts)]
