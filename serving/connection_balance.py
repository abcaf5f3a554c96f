"""Keep-alive connections spread over the workers by load, not only by the kernel's hash.

Why: each worker listens on its own ``SO_REUSEPORT`` socket (``launcher.py``), and the
kernel hashes every new connection to one of them. A client's pool of keep-alive
connections then stays where the hash put it: with 16 connections over two workers, splits
of 12/4 and 13/3 happen, and the worker with 12 is the bottleneck while the other core
idles (one post a request: 226–284 posts/s on such splits against 313 on 7/9; the mixed
feed + ingest run's p99 moved between 23 and 108 ms with the split). Here each worker
publishes how many client connections it served in the last ``window_s`` (a file per
worker under the data dir, rewritten every ``publish_s``); a worker holding more than its
share by ``slack`` answers one request with ``Connection: close``, and the client's pool
opens a new connection, which the kernel hashes again. HTTP clients reconnect on that
header by themselves; nothing is lost (the answer is complete).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Clock = Callable[[], float]


class ConnectionShare:
    """This worker's live client connections against the other workers' (by files)."""

    def __init__(
        self,
        folder: Path,
        window_s: float = 2.0,
        publish_s: float = 0.25,
        slack: int = 1,
        close_every_s: float = 0.25,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        pid: int | None = None,
    ) -> None:
        self.folder = folder
        self.window_s = window_s
        self.publish_s = publish_s
        self.slack = slack
        self.close_every_s = close_every_s
        self.clock = clock
        self.wall = wall
        self.pid = os.getpid() if pid is None else pid
        self._seen: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._published = -math.inf
        self._others: list[int] = []
        self._last_close = -math.inf
        self._made = False

    def live(self) -> int:
        """Client connections this worker served within the window."""
        return len(self._seen)

    def over_share(self, client: tuple[str, int] | None) -> bool:
        """Record a request on ``client``'s connection; True when this worker holds more
        than its share of the workers' connections and this one should be closed."""
        if client is None:
            return False
        now = self.clock()
        with self._lock:
            self._seen[client] = now
            if now - self._published >= self.publish_s:
                self._expire(now)
                self._publish(now)
            mine = len(self._seen)
            total = mine + sum(self._others)
            share = math.ceil(total / (1 + len(self._others)))
            if not self._others or mine <= share + self.slack:
                return False
            if now - self._last_close < self.close_every_s:
                return False
            self._last_close = now
            del self._seen[client]  # it reconnects; wherever it lands counts it again
            return True

    def _expire(self, now: float) -> None:
        old = [c for c, at in self._seen.items() if now - at > self.window_s]
        for client in old:
            del self._seen[client]

    def _publish(self, now: float) -> None:
        """Write this worker's count and read the live workers' (a file younger than three
        windows; a dead worker's file ages out)."""
        self._published = now
        try:
            if not self._made:  # once: publishing runs in a request every ``publish_s``
                self.folder.mkdir(parents=True, exist_ok=True)
                self._made = True
            mine = self.folder / f"{self.pid}.conns"
            tmp = self.folder / f"{self.pid}.conns.tmp"
            tmp.write_text(str(len(self._seen)))
            tmp.replace(mine)
            others = []
            wall = self.wall()
            for path in self.folder.glob("*.conns"):
                if path == mine:
                    continue
                try:
                    if wall - path.stat().st_mtime > 3 * self.window_s:
                        continue
                    others.append(int(path.read_text() or 0))
                except (OSError, ValueError):
                    continue
            self._others = others
        except OSError:
            self._others = []  # no shared folder: never ask a client to move


class ConnectionBalance:
    """ASGI middleware: ``Connection: close`` on an answer when this worker is over share."""

    def __init__(self, app: ASGIApp, share: ConnectionShare) -> None:
        self.app = app
        self.share = share

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.share.over_share(_client(scope)):
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def _client(scope: Scope) -> tuple[str, int] | None:
    client = scope.get("client")
    if not client:
        return None
    return str(client[0]), int(client[1])
