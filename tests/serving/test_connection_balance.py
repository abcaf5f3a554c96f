"""Workers over their share of the live connections ask one client at a time to reconnect;
alone, or within the share, nobody is asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from quanzi.serving.connection_balance import ConnectionBalance, ConnectionShare


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _share(folder: Path, clock: Clock, pid: int) -> ConnectionShare:
    return ConnectionShare(folder, clock=clock, wall=lambda: os.path.getmtime(folder), pid=pid)


def _other_worker(folder: Path, pid: int, connections: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.conns").write_text(str(connections))


def test_a_lone_worker_never_closes(tmp_path: Path) -> None:
    clock = Clock()
    share = _share(tmp_path / "w", clock, pid=1)
    assert not any(share.over_share(("127.0.0.1", port)) for port in range(40))
    assert share.live() == 40
    assert (tmp_path / "w" / "1.conns").read_text() == "1"  # published at the first request


def test_a_worker_over_its_share_closes_one_connection_per_period(tmp_path: Path) -> None:
    folder, clock = tmp_path / "w", Clock()
    _other_worker(folder, 2, 4)  # the other worker serves 4 connections
    share = _share(folder, clock, pid=1)
    # Up to 7 here against 4 there is within the share (ceil(11 / 2) + 1 slack).
    assert not any(share.over_share(("127.0.0.1", port)) for port in range(7))
    assert share.over_share(("127.0.0.1", 7)) is True  # the 8th: 8 > ceil(12 / 2) + 1
    assert share.live() == 7  # that client reconnects; wherever it lands counts it
    assert share.over_share(("127.0.0.1", 8)) is False  # at most one per period
    clock.now += share.publish_s
    assert share.over_share(("127.0.0.1", 9)) is True
    assert (folder / "1.conns").read_text() == "9"  # what the other worker reads of this one


@pytest.mark.parametrize("mine, theirs", [(9, 7), (8, 8), (5, 11)])
def test_within_the_share_nobody_is_asked(tmp_path: Path, mine: int, theirs: int) -> None:
    folder, clock = tmp_path / "w", Clock()
    _other_worker(folder, 2, theirs)
    share = _share(folder, clock, pid=1)
    for port in range(mine):
        share.over_share(("127.0.0.1", port))
    clock.now += share.publish_s
    assert not any(share.over_share(("127.0.0.1", port)) for port in range(mine))


def test_connections_gone_quiet_leave_the_count(tmp_path: Path) -> None:
    clock = Clock()
    share = _share(tmp_path / "w", clock, pid=1)
    for port in range(5):
        share.over_share(("127.0.0.1", port))
    clock.now += share.window_s + share.publish_s
    share.over_share(("127.0.0.1", 99))
    assert share.live() == 1


def test_the_middleware_adds_connection_close_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    _other_worker(folder, 2, 0)
    share = ConnectionShare(folder, slack=0, publish_s=0.0, close_every_s=0.0, pid=1)
    for port in range(3):  # three other clients of this worker
        share.over_share(("10.0.0.1", port))
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(ConnectionBalance, share=share)
    with TestClient(app) as client:
        answer = client.get("/ping")  # 4 connections here against 0 there: over share
        assert answer.status_code == 200 and answer.json() == {"ok": True}
        assert answer.headers["connection"] == "close"
        _other_worker(folder, 2, 5)  # 4 here against 5 there: within the share
        calm = client.get("/ping")
        assert calm.status_code == 200 and "connection" not in calm.headers
