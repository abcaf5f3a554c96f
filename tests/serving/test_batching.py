"""The dynamic batcher on its own: order, max delay, max batch, queue bound, stale items,
failure isolation, caller cancellation, weights, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from quanzi.serving.batching import DynamicBatcher, Overloaded, QueueFull


class Recorder:
    """A handler that doubles numbers, records each batch, and can be held or made to fail."""

    def __init__(self, hold: threading.Event | None = None, fail_on: Any = None) -> None:
        self.batches: list[list[Any]] = []
        self.hold = hold
        self.fail_on = fail_on
        self.started = threading.Event()

    def __call__(self, items: list[Any]) -> Sequence[Any]:
        self.batches.append(list(items))
        self.started.set()
        if self.hold is not None:
            self.hold.wait(5)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot handle {self.fail_on!r}")
        return [
            KeyError(item) if isinstance(item, str) and item.startswith("own-error") else item * 2
            for item in items
        ]


def run(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: a test before may leave a loop running in
    the main thread (Playwright's sync API does)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def running(handler: Recorder) -> None:
    """Until the handler holds its first batch (the batcher's runner is busy)."""
    while not handler.started.is_set():
        await asyncio.sleep(0.005)


def make(handler: Any, **kw: Any) -> DynamicBatcher[Any, Any]:
    options = {"max_batch": 4, "max_delay_s": 0.05, "max_queue": 100} | kw
    return DynamicBatcher("test", handler, **options)


def test_items_come_back_in_order_in_batches_of_at_most_max_batch() -> None:
    handler = Recorder()

    async def main() -> list[int]:
        batcher = make(handler)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        finally:
            await batcher.close()

    assert run(main()) == [i * 2 for i in range(10)]
    assert handler.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_lone_item_waits_at_most_the_max_delay() -> None:
    async def main(delay: float) -> float:
        batcher = make(Recorder(), max_delay_s=delay)
        batcher.start()
        start = time.monotonic()
        try:
            assert await batcher.submit(1) == 2
            return time.monotonic() - start
        finally:
            await batcher.close()

    waited = run(main(0.2))
    assert 0.19 <= waited < 1.5  # the delay is spent waiting for batch-mates, then it runs
    assert run(main(0.0)) < 0.5


def test_a_full_batch_starts_without_waiting_for_the_delay() -> None:
    async def main() -> float:
        batcher = make(Recorder(), max_batch=4, max_delay_s=30)
        batcher.start()
        start = time.monotonic()
        try:
            await asyncio.gather(*(batcher.submit(i) for i in range(4)))
            return time.monotonic() - start
        finally:
            await batcher.close()

    assert run(main()) < 5


def test_a_full_queue_refuses_at_once_with_429_and_retry_after() -> None:
    hold = threading.Event()
    handler = Recorder(hold=hold)

    async def main() -> None:
        batcher = make(handler, max_batch=1, max_delay_s=0, max_queue=2)
        batcher.start()
        try:
            busy = asyncio.ensure_future(batcher.submit(1))
            await running(handler)
            waiting = [asyncio.ensure_future(batcher.submit(i)) for i in (2, 3)]
            await asyncio.sleep(0.01)
            assert batcher.depth == 2
            with pytest.raises(QueueFull) as refused:
                await batcher.submit(4)
            assert refused.value.status_code == 429 and refused.value.retry_after >= 1
            assert "queue is full" in str(refused.value)
            hold.set()
            assert await asyncio.gather(busy, *waiting) == [2, 4, 6]
        finally:
            hold.set()
            await batcher.close()

    run(main())


def test_an_item_that_waited_past_the_bound_is_answered_503_not_run() -> None:
    hold = threading.Event()
    handler = Recorder(hold=hold)

    async def main() -> None:
        batcher = make(handler, max_batch=1, max_delay_s=0, max_wait_s=0.05)
        batcher.start()
        try:
            first = asyncio.ensure_future(batcher.submit(1))
            await running(handler)
            late = asyncio.ensure_future(batcher.submit(2))
            await asyncio.sleep(0.2)
            hold.set()
            assert await first == 2
            with pytest.raises(Overloaded) as stale:
                await late
            assert stale.value.status_code == 503 and stale.value.retry_after >= 1
        finally:
            hold.set()
            await batcher.close()

    run(main())
    assert handler.batches == [[1]]  # the stale item never reached the handler


def test_one_failing_item_does_not_fail_its_batch_mates() -> None:
    handler = Recorder(fail_on=3)

    async def main() -> list[Any]:
        batcher = make(handler, max_batch=8)
        batcher.start()
        try:
            items = [1, 2, 3, 4, "own-error-5"]
            return await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
        finally:
            await batcher.close()

    outcomes = run(main())
    assert outcomes[:2] == [2, 4] and outcomes[3] == 8
    assert isinstance(outcomes[2], ValueError) and "cannot handle 3" in str(outcomes[2])
    assert isinstance(outcomes[4], KeyError)  # an outcome of its own, not a batch failure
    # The whole batch failed once, then each item ran alone.
    assert handler.batches[0] == [1, 2, 3, 4, "own-error-5"]
    assert handler.batches[1:] == [[1], [2], [3], [4], ["own-error-5"]]


def test_a_cancelled_caller_is_dropped_before_its_batch_runs() -> None:
    hold = threading.Event()
    handler = Recorder(hold=hold)

    async def main() -> None:
        batcher = make(handler, max_batch=4, max_delay_s=0)
        batcher.start()
        try:
            first = asyncio.ensure_future(batcher.submit(1))
            await running(handler)
            gone = asyncio.ensure_future(batcher.submit(2))
            kept = asyncio.ensure_future(batcher.submit(3))
            await asyncio.sleep(0.01)
            gone.cancel()
            await asyncio.sleep(0.01)
            hold.set()
            assert await first == 2 and await kept == 6
            assert gone.cancelled()
            assert batcher.depth == 0
        finally:
            hold.set()
            await batcher.close()

    run(main())
    assert handler.batches == [[1], [3]]


def test_a_caller_cancelled_while_its_batch_runs_leaves_batch_mates_answered() -> None:
    hold = threading.Event()
    handler = Recorder(hold=hold)

    async def main() -> None:
        batcher = make(handler, max_batch=2, max_delay_s=0.05)
        batcher.start()
        try:
            one = asyncio.ensure_future(batcher.submit(1))
            two = asyncio.ensure_future(batcher.submit(2))
            await running(handler)
            one.cancel()
            hold.set()
            assert await two == 4
        finally:
            hold.set()
            await batcher.close()

    run(main())
    assert handler.batches == [[1, 2]]


def test_weights_bound_batches_and_a_heavy_item_runs_alone() -> None:
    handler = Recorder()

    async def main() -> None:
        batcher = make(handler, max_batch=4, max_delay_s=0.05, weight=lambda n: n)
        batcher.start()
        try:
            await asyncio.gather(*(batcher.submit(n) for n in (2, 2, 1, 9, 1)))
        finally:
            await batcher.close()

    run(main())
    assert handler.batches == [[2, 2], [1], [9], [1]]
    assert sum(len(b) for b in handler.batches) == 5


def test_concurrent_runners_overlap_batches() -> None:
    hold = threading.Event()
    started: list[float] = []

    def slow(items: list[int]) -> list[int]:
        started.append(time.monotonic())
        hold.wait(0.3)
        return items

    async def main() -> None:
        batcher = make(slow, max_batch=1, max_delay_s=0, concurrency=2)
        batcher.start()
        try:
            await asyncio.gather(batcher.submit(1), batcher.submit(2))
        finally:
            await batcher.close()

    run(main())
    assert len(started) == 2 and abs(started[1] - started[0]) < 0.25


def test_close_answers_what_still_waits_and_submit_after_close_fails() -> None:
    hold = threading.Event()
    handler = Recorder(hold=hold)

    async def main() -> None:
        batcher = make(handler, max_batch=1, max_delay_s=0)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(1))
        await running(handler)
        waiting = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0.01)
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0.01)
        hold.set()
        await closing
        assert await first == 2  # the batch under way finished
        with pytest.raises(Overloaded):
            await waiting
        with pytest.raises(RuntimeError, match="not running"):
            await batcher.submit(3)

    run(main())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DynamicBatcher("x", Recorder(), max_batch=0, max_delay_s=0, max_queue=1)


def test_thread_setup_runs_in_the_thread_that_runs_the_handler() -> None:
    """Per-thread settings (FAISS's OpenMP thread count) reach the handler's thread."""
    local = threading.local()

    def setup() -> None:
        local.ready = True

    def handler(items: list[Any]) -> list[Any]:
        return [getattr(local, "ready", False) for _ in items]

    async def scenario() -> list[Any]:
        batcher = make(handler, thread_setup=setup)
        batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.submit(i) for i in range(3))))
        finally:
            await batcher.close()

    assert run(scenario()) == [True, True, True]
