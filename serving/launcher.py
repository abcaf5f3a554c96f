"""Runs the service's worker processes, each with its own ``SO_REUSEPORT`` listener.

Why: with uvicorn's default multi-worker mode every worker accepts from one shared socket,
and the worker that wakes first takes every pending connection. The feed service keeps a
pool of keep-alive connections, so one worker ended up with all of them: measured with
``quanzi bench feed`` (8 connections, 2 workers), 14.8 CPU-seconds on one worker and 0.1 on
the other. With a listener per worker in one ``SO_REUSEPORT`` group the kernel spreads new
connections over the workers by a hash of their addresses.

How: uvicorn's own supervisor (restarts, signals, health pings) runs the workers; it hands
each worker a pickled copy of the socket list, and our socket pickles as "bind a new
``SO_REUSEPORT`` listener on this address", so each worker binds its own. Linux only; other
platforms, one worker, or ``QUANZI_REUSE_PORT=false`` use uvicorn's shared socket.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


def reuse_port_supported() -> bool:
    """Whether the kernel balances connections across ``SO_REUSEPORT`` listeners."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` in the ``SO_REUSEPORT`` group (not listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class PerWorkerSocket(socket.socket):
    """The parent's placeholder: reserves the address (so a busy port fails before any
    worker starts) and, when pickled for a worker, becomes a fresh listener there."""

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        host, port = self.getsockname()[:2]
        return bind_reuse_port, (host, port)

    @classmethod
    def create(cls, host: str, port: int) -> PerWorkerSocket:
        plain = bind_reuse_port(host, port)
        try:
            return cls(plain.family, plain.type, plain.proto, fileno=plain.detach())
        except BaseException:
            plain.close()
            raise


def run(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    reuse_port: bool = True,
    **uvicorn_options: Any,
) -> None:
    """Serve ``app`` (an import string of an app factory) with ``workers`` processes."""
    if workers <= 1 or not reuse_port or not reuse_port_supported():
        uvicorn.run(
            app,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            **uvicorn_options,
        )
        return
    uvicorn_options.pop("app_dir", None)  # a ``uvicorn.run`` option; Config never edits sys.path
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        **uvicorn_options,
    )
    placeholder = PerWorkerSocket.create(host, port)
    try:
        Multiprocess(config, sockets=[placeholder]).run()
    finally:
        placeholder.close()
