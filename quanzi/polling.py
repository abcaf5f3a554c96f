"""A daemon thread that calls one function at a fixed rate until stopped.

Shared by the index sync (``models/index/sync.py``) and the feed snapshot sync
(``serving/feed_snapshot_sync.py``): both poll the database's change logs, and both must survive
a failing poll (a database blip) and stop promptly at shutdown.

Fixed rate, start to start: a step that takes 0.4 s of a 1 s interval is followed by a
0.6 s wait, not 1 s, so a change committed just after a poll read is applied by the next
poll within the interval plus that poll's own run time (with a fixed wait between polls the
bound was two run times more: 1.46 s measured for 1 s on the demo world's rescore). A step
longer than the interval is followed by a short pause (a tenth of the interval), never by a
burst of catch-up polls.

``bound_staleness=True`` makes the interval a bound on staleness instead (the feed
snapshot's setting says it is one). A change committed just after a poll read waits for the
next poll's read and then for that poll to apply it, so the gap between poll starts must
leave room for the apply time and for scheduling noise on a busy machine: polls start every
half interval, or earlier by the longest run time of the last eight polls when that is
tighter (the last one alone under-estimates the poll that meets a burst). Measured on the
demo world's rescore under feed load (1 s interval, 250-post batches): a fixed rate alone
let the slowest change wait 1.28 s; starting early by the run time alone, 1.06–1.29 s over
two runs, because the interval left no margin for a poll thread that waits for the CPU;
the half-interval gap is in ``docs/scale.md``. Each idle poll costs about 1 ms.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable


class Poller:
    """Runs ``step`` every ``interval_s`` seconds in a daemon thread named ``name``."""

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        interval_s: float,
        log: logging.Logger,
        bound_staleness: bool = False,
    ) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self.log = log
        self.bound_staleness = bound_staleness
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _loop(self) -> None:
        due = time.monotonic() + self.interval_s
        runs: deque[float] = deque([0.0], maxlen=8)
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            started = time.monotonic()
            try:
                self.step()
            except Exception:  # the next poll retries; the thread must not die
                self.log.exception("%s failed; retrying in %.1f s", self.name, self.interval_s)
            runs.append(time.monotonic() - started)
            gap = self.interval_s
            if self.bound_staleness:
                gap = min(self.interval_s / 2, self.interval_s - max(runs))
            due = max(started + gap, time.monotonic() + self.interval_s / 10)

    def start(self) -> None:
        """Start polling (a second call while running does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and wait up to ``timeout`` for the current step to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
