"""The launcher: each worker gets its own SO_REUSEPORT listener on the service's address."""

from __future__ import annotations

import pickle
import socket
from multiprocessing.reduction import ForkingPickler

import pytest

from quanzi.serving.launcher import PerWorkerSocket, reuse_port_supported

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="Linux SO_REUSEPORT only")


def test_the_placeholder_unpickles_as_a_new_listener_on_the_same_port() -> None:
    placeholder = PerWorkerSocket.create("127.0.0.1", 0)
    port = placeholder.getsockname()[1]
    workers = [pickle.loads(ForkingPickler.dumps(placeholder)) for _ in range(2)]
    try:
        for sock in workers:
            assert type(sock) is socket.socket and sock.fileno() != placeholder.fileno()
            assert sock.getsockname()[1] == port
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.listen()
        # The kernel spreads connections over both listeners: open a few and see both used.
        for sock in workers:
            sock.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        accepted = [0, 0]
        for k, sock in enumerate(workers):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted[k] += 1
        assert sum(accepted) == 32 and min(accepted) > 0
        for c in clients:
            c.close()
    finally:
        for sock in workers:
            sock.close()
        placeholder.close()


def test_a_taken_port_fails_in_the_parent() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            PerWorkerSocket.create("127.0.0.1", taken.getsockname()[1])
