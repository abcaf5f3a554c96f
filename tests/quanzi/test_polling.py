"""The poller survives a failing step and stops promptly."""

from __future__ import annotations

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
