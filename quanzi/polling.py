"""A daemon thread that calls one function at a fixed interval until stopped.

Shared by the index sync (``models/index/sync.py``) and the feed snapshot sync
(``serving/feed_snapshot_sync.py``): both poll the database's change logs, and both must survive
a failing poll (a database blip) and stop promptly at shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Poller:
    """Runs ``step`` every ``interval_s`` seconds in a daemon thread named ``name``."""

    def __init__(
        self, name: str, step: Callable[[], object], interval_s: float, log: logging.Logger
    ) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self.log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except Exception:  # the next poll retries; the thread must not die
                self.log.exception("%s failed; retrying in %.1f s", self.name, self.interval_s)

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
