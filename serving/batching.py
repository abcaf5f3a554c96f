"""A dynamic batcher: concurrent requests' items gathered into one call of a batch handler.

Why: the platform sends one post per request, many requests at once. Run one by one, every
request pays its own model forward passes and its own transaction; gathered for a few
milliseconds, a batch pays them once (Triton's dynamic batcher, Ray Serve's
``@serve.batch``). Written here rather than taken from a library: Ray Serve brings its own
process model and cluster, and the small batching packages on PyPI are young one-author
projects without queue bounds or failure isolation; this is ~200 lines (docs/serving.md).

How it behaves (each tested in ``tests/serving/test_batching.py``):
- **order**: items are served first in, first out; a batch keeps its items' order;
- **max delay**: the first item of a batch waits at most ``max_delay_s`` for batch-mates
  (less when ``max_batch`` fills first); while every runner is busy, items gather anyway;
- **max batch**: a batch holds items weighing at most ``max_batch`` in all (an item
  heavier than that, e.g. a 500-post request, runs as a batch of its own);
- **queue bound**: ``submit`` refuses at once with ``QueueFull`` (HTTP 429) when the
  waiting weight would pass ``max_queue``; an item that waited longer than ``max_wait_s``
  before its batch started is answered ``Overloaded`` (HTTP 503) instead of run late;
- **failure isolation**: the handler returns one outcome per item, a result or an
  exception for that item alone; when it raises instead, the batch's items are retried
  one by one, so only the item that fails gets its error;
- **cancellation**: a caller that stops waiting (client gone, timeout) is dropped before
  its batch starts; once the batch runs, its outcome is discarded.

The handler is synchronous (models, SQL) and runs on the batcher's own threads,
``concurrency`` batches at a time (one: a single writer per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

T = TypeVar("T")
R = TypeVar("R")

Handler = Callable[[list[T]], Sequence["R | BaseException"]]


class Backpressure(Exception):
    """The service cannot take this item now; ``retry_after`` seconds is a fair wait."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def backpressure_handler(_request: Request, exc: Exception) -> JSONResponse:
    """``{"detail", "code"}`` with the refusal's status (429/503) and ``Retry-After``."""
    retry = exc.retry_after if isinstance(exc, Backpressure) else 1
    status = exc.status_code if isinstance(exc, Backpressure) else 503
    code = exc.code if isinstance(exc, Backpressure) else "overloaded"
    return JSONResponse(
        {"detail": str(exc), "code": code},
        status_code=status,
        headers={"Retry-After": str(retry)},
    )


class QueueFull(Backpressure):
    """The queue is at its bound: refused before any work was done (HTTP 429)."""

    status_code = 429
    code = "queue_full"


class Overloaded(Backpressure):
    """The item waited past ``max_wait_s`` for its batch to start (HTTP 503)."""

    status_code = 503
    code = "overloaded"


class BatchObserver(Protocol):
    """Where a batcher reports what it does (``serving/metrics.py`` implements it)."""

    def batch_queue(self, name: str, depth: int) -> None: ...

    def batch_run(self, name: str, size: int, waits_s: Sequence[float], seconds: float) -> None: ...

    def batch_rejected(self, name: str, reason: str, items: int = 1) -> None: ...


@dataclass
class _Pending(Generic[T, R]):
    item: T
    weight: int
    enqueued: float
    future: asyncio.Future[R]


@dataclass
class BatchStats:
    """What a batcher has done so far (tests and the bench read it)."""

    batches: int = 0
    items: int = 0
    sizes: dict[int, int] = field(default_factory=dict)


class DynamicBatcher(Generic[T, R]):
    """Gathers ``submit``-ted items into batches for ``handler``; see the module docstring."""

    def __init__(
        self,
        name: str,
        handler: Handler[T, R],
        *,
        max_batch: int,
        max_delay_s: float,
        max_queue: int,
        max_wait_s: float = math.inf,
        concurrency: int = 1,
        weight: Callable[[T], int] = lambda _item: 1,
        observer: BatchObserver | None = None,
        thread_setup: Callable[[], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or concurrency < 1 or max_delay_s < 0:
            raise ValueError("max_batch, max_queue and concurrency ≥ 1; max_delay_s ≥ 0")
        self.name = name
        self.handler = handler
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_queue = max_queue
        self.max_wait_s = max_wait_s
        self.concurrency = concurrency
        self.weight = weight
        self.observer = observer
        self.thread_setup = thread_setup  # run once in each handler thread (per-thread settings)
        self.stats = BatchStats()
        self._queue: deque[_Pending[T, R]] = deque()
        self._depth = 0  # waiting weight (cancelled items leave when a batch is taken)
        self._arrived: asyncio.Event | None = None
        self._runners: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._rate = 0.0  # items per second, smoothed: for Retry-After
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the runners on the running event loop (the app's lifespan)."""
        if self._runners:
            return
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix=self.name, initializer=self.thread_setup
        )
        self._runners = [
            asyncio.create_task(self._run(), name=f"{self.name}-batcher-{i}")
            for i in range(self.concurrency)
        ]

    async def close(self) -> None:
        """Finish the batches under way, answer what still waits with ``Overloaded``."""
        self._closed = True
        if self._arrived is not None:
            self._arrived.set()
        await asyncio.gather(*self._runners, return_exceptions=True)
        self._runners = []
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(Overloaded("the service is shutting down", 1))
        self._depth = 0
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    @property
    def depth(self) -> int:
        """Weight of the items waiting for a batch."""
        return self._depth

    # ------------------------------------------------------------------ callers
    async def submit(self, item: T) -> R:
        """The item's outcome once its batch ran; raises the item's own error, ``QueueFull``
        at once when the queue is at its bound, ``Overloaded`` after ``max_wait_s``."""
        if not self._runners or self._closed:
            raise RuntimeError(f"batcher {self.name} is not running (start it in the lifespan)")
        weight = max(1, self.weight(item))
        if self._depth and self._depth + weight > self.max_queue:
            if self.observer is not None:
                self.observer.batch_rejected(self.name, "queue_full")
            raise QueueFull(
                f"the {self.name} queue is full ({self._depth} waiting, bound "
                f"{self.max_queue}): retry after the Retry-After seconds",
                self.retry_after(),
            )
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(item, weight, time.monotonic(), future))
        self._depth += weight
        self._report_depth()
        assert self._arrived is not None
        self._arrived.set()
        return await future  # cancelling the caller cancels the future: see _take

    def retry_after(self) -> int:
        """Seconds until the waiting items are likely served (1–60)."""
        if self._rate <= 0:
            return 1
        return int(min(60, max(1, math.ceil(self._depth / self._rate))))

    # ------------------------------------------------------------------ runners
    async def _run(self) -> None:
        assert self._arrived is not None and self._executor is not None
        loop = asyncio.get_running_loop()
        while not self._closed:
            while not self._queue and not self._closed:
                self._arrived.clear()
                await self._arrived.wait()
            if self._closed:
                break
            # Gather: until the batch is full or the oldest item's delay is spent.
            deadline = self._queue[0].enqueued + self.max_delay_s
            while not self._closed and self._waiting_weight() < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)
            batch = self._take()
            if not batch:
                continue
            started = time.monotonic()
            outcomes = await loop.run_in_executor(self._executor, self._call, batch)
            seconds = time.monotonic() - started
            self._settle(batch, outcomes, started, seconds)

    def _waiting_weight(self) -> int:
        return sum(p.weight for p in self._queue if not p.future.done())

    def _take(self) -> list[_Pending[T, R]]:
        """Pop the next batch: cancelled callers dropped, stale items answered 503."""
        batch: list[_Pending[T, R]] = []
        total = 0
        now = time.monotonic()
        while self._queue:
            head = self._queue[0]
            if head.future.done():  # the caller stopped waiting
                self._queue.popleft()
                self._depth -= head.weight
                continue
            if batch and total + head.weight > self.max_batch:
                break
            self._queue.popleft()
            self._depth -= head.weight
            if now - head.enqueued > self.max_wait_s:
                head.future.set_exception(
                    Overloaded(
                        f"waited {now - head.enqueued:.1f} s for the {self.name} batcher "
                        f"(bound {self.max_wait_s:g} s): the service is overloaded, retry "
                        "after the Retry-After seconds",
                        self.retry_after(),
                    )
                )
                if self.observer is not None:
                    self.observer.batch_rejected(self.name, "overloaded")
                continue
            batch.append(head)
            total += head.weight
        self._report_depth()
        return batch

    def _call(self, batch: list[_Pending[T, R]]) -> list[R | BaseException]:
        """The handler over the batch; when it raises, each item alone (isolation)."""
        items = [p.item for p in batch]
        try:
            outcomes = list(self.handler(items))
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            outcomes = []
            for item in items:
                try:
                    outcomes.extend(self.handler([item]))
                except Exception as one:
                    outcomes.append(one)
        if len(outcomes) != len(items):
            error = RuntimeError(
                f"{self.name} handler answered {len(outcomes)} outcomes for {len(items)} items"
            )
            return [error] * len(items)
        return outcomes

    def _settle(
        self,
        batch: list[_Pending[T, R]],
        outcomes: Sequence[R | BaseException],
        started: float,
        seconds: float,
    ) -> None:
        size = sum(p.weight for p in batch)
        self.stats.batches += 1
        self.stats.items += size
        self.stats.sizes[size] = self.stats.sizes.get(size, 0) + 1
        rate = size / max(seconds, 1e-3)
        self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
        if self.observer is not None:
            self.observer.batch_run(self.name, size, [started - p.enqueued for p in batch], seconds)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():  # cancelled while its batch ran: nobody to answer
                continue
            if isinstance(outcome, BaseException):
                if isinstance(outcome, Backpressure) and self.observer is not None:
                    self.observer.batch_rejected(self.name, outcome.code)  # e.g. a failed commit
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

    def _report_depth(self) -> None:
        if self.observer is not None:
            self.observer.batch_queue(self.name, self._depth)
