"""The ingest bench's load generator: acknowledged posts, batch sizes, 429s sent again after
Retry-After, errors, against a tiny keep-alive server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from quanzi.evaluation.ingest_bench import drive, make_bodies, make_posts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the service
    refused: ClassVar[set[str]] = set()  # post ids refused once already
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        posts = body.get("posts", [body])
        status, headers, payload = 200, {"X-Quanzi-Batch-Posts": "3"}, b""
        with self.lock:
            first = posts[0]["id"]
            if first.endswith("-4") and first not in self.refused:  # refused once, then taken
                self.refused.add(first)
                status, headers = 429, {"Retry-After": "0"}
        if "broken" in posts[0]["text"]:
            status = 500
        if status == 200:
            results = [
                {"post_id": p["id"], "status": "pass", "near_duplicate_of": None} for p in posts
            ]
            payload = json.dumps({"results": results}).encode()
        else:
            payload = b'{"detail": "no", "code": "queue_full"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def test_single_posts_are_acknowledged_refusals_retried_and_errors_counted() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    texts = ["好用", "不错", "很香", "耐用", "划算", "broken", "轻薄", "结实"]
    posts = make_posts(["c-1"], ["u-1", "u-2"], texts, "t")
    try:
        load, acked = drive(server.server_address[1], "k", make_bodies(posts, None), 3, "single")
    finally:
        server.shutdown()
    assert sorted(acked) == sorted(p["id"] for p in posts if p["text"] != "broken")
    assert load.posts == load.requests == 7
    assert load.refused_429 == 1  # t-4 refused once, then acknowledged
    assert load.errors == 1 and "HTTP 500" in load.error_samples[0]
    assert load.batch_sizes == {"3": 7} and load.statuses == {"pass": 7}
    assert 0 < load.p50_ms <= load.p99_ms <= load.max_ms


def test_batched_bodies_carry_every_post_once() -> None:
    posts = make_posts(["c-1", "c-2"], ["u-1"], [f"第{i}条" for i in range(250)], "b")
    bodies = make_bodies(posts, 100)
    assert [len(b["posts"]) for b in bodies] == [100, 100, 50]
    assert [p["id"] for b in bodies for p in b["posts"]] == [f"b-{i}" for i in range(250)]
    assert sum("微信" in p["text"] for p in posts) == 250 // 20  # contact details to reject


def test_a_closed_loop_stops_sending_after_its_seconds() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    posts = make_posts(["c-1"], ["u-1"], [f"第{i}条" for i in range(50_000)], "s")
    try:
        load, acked = drive(
            server.server_address[1], "k", make_bodies(posts, None), 2, "single", seconds=0.5
        )
    finally:
        server.shutdown()
    assert 0 < len(acked) < 50_000
    assert load.seconds < 5
