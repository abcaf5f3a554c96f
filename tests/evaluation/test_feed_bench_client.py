"""The feed bench's load generator: counts, latencies and errors against a tiny server."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from quanzi.evaluation.bench_server import process_cpu_seconds
from quanzi.evaluation.feed_bench import _request_bytes, drive, summarise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the service

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if b'"fail"' in body else 200
        payload = b'{"items":[]}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _server() -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_each_connection_sends_max_requests_and_errors_are_counted() -> None:
    server, port = _server()
    try:
        requests = [
            _request_bytes("127.0.0.1", port, "k", {"viewer_id": v})
            for v in ("a", "b", "fail", "c")
        ]
        latencies, errors, elapsed = drive("127.0.0.1", port, requests, 30, 3, max_requests=8)
    finally:
        server.shutdown()
    assert len(latencies) == 24  # 3 connections × 8 requests, all answered
    assert errors.count("HTTP 500") == 6  # every fourth body fails
    result = summarise("given", latencies, errors, elapsed, 3)
    assert result.requests == 24 and result.errors == 6
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_open_loop_sends_at_the_rate_and_counts_from_the_due_time() -> None:
    server, port = _server()
    try:
        requests = [_request_bytes("127.0.0.1", port, "k", {"viewer_id": "a"})]
        latencies, errors, elapsed = drive("127.0.0.1", port, requests, 1.0, 2, rate=50)
    finally:
        server.shutdown()
    assert len(latencies) == 50 and not errors  # rate × seconds, no more, no less
    assert 0.9 < elapsed < 5


def test_a_refused_connection_is_an_error_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    latencies, errors, _ = drive("127.0.0.1", port, [b"x"], 0.3, 1)
    assert not latencies and errors and errors[0].startswith("connect")


def test_process_cpu_seconds_reads_this_process() -> None:
    import os

    first = process_cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))  # burn a little CPU
    second = process_cpu_seconds(os.getpid())
    assert first is not None and second is not None and second >= first


def test_a_stop_file_ends_the_load_early(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, port = _server()
    stop = tmp_path / "stop"
    timer = threading.Timer(0.5, stop.touch)
    try:
        requests = [_request_bytes("127.0.0.1", port, "k", {"viewer_id": "a"})]
        timer.start()
        latencies, errors, elapsed = drive(
            "127.0.0.1", port, requests, 60.0, 2, rate=50, stop_file=str(stop)
        )
    finally:
        timer.cancel()
        server.shutdown()
    assert not errors and 5 <= len(latencies) < 200  # stopped after ~0.5 s, not 60
    assert elapsed < 10
