"""Prometheus metrics owned by one app: latency per route template, requests by status, gauges.

The registry belongs to the app (made in ``create_app``), not to the module, so several
apps in one process (tests) never clash over metric names. With several uvicorn
workers each worker exports its own series; Prometheus sums them per instance label.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds; dense below 100 ms, where the feed-ranking target (p99 ≤ 30 ms) lives.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# Items per batch (posts for ingest, texts for moderation and similar search).
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
UNMATCHED = "<unmatched>"  # one label for every unknown path: a scanner cannot blow up series


class ServiceMetrics:
    """The app's metrics; the lead's code sets model versions and index sizes through it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "quanzi_request_duration_seconds",
            "Request latency by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "quanzi_requests",
            "Requests by route template and HTTP status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "quanzi_model_version_info",
            "1 for the model version each model name serves now.",
            ["model", "version"],
            registry=self.registry,
        )
        self.index_size = Gauge(
            "quanzi_index_vectors",
            "Vectors in each similarity index.",
            ["index"],
            registry=self.registry,
        )
        # The dynamic batchers (serving/batching.py): queue depth, batch sizes, waits, refusals.
        self.batch_queue_depth = Gauge(
            "quanzi_batch_queue_depth",
            "Items waiting for a batch, per batcher (ingest, moderate, embed).",
            ["batcher"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "quanzi_batch_size",
            "Items per batch run, per batcher.",
            ["batcher"],
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.batch_wait = Histogram(
            "quanzi_batch_wait_seconds",
            "Time an item waited in the queue before its batch started.",
            ["batcher"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "quanzi_batch_run_seconds",
            "Time one batch took (models, and for ingest the transaction up to its commit).",
            ["batcher"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_refused = Counter(
            "quanzi_batch_rejected",
            "Items refused by backpressure: queue_full (429), overloaded (503), "
            "store_unavailable (503, the commit failed: never acknowledged).",
            ["batcher", "reason"],
            registry=self.registry,
        )
        self.feed_arms = Counter(
            "quanzi_feed_arm_requests",
            "Feed rankings served per experiment arm (arms are assigned by viewer hash).",
            ["arm"],
            registry=self.registry,
        )
        self._arm_children: dict[str, Any] = {}
        self.degraded = Gauge(
            "quanzi_model_degraded",
            "1 for each model served degraded now, labelled with what serves instead.",
            ["model", "serving"],
            registry=self.registry,
        )
        self.degraded_loads = Counter(
            "quanzi_model_degraded_loads",
            "Model loads (startup and reloads) that left a model degraded, by model.",
            ["model"],
            registry=self.registry,
        )
        self.degraded_responses = Counter(
            "quanzi_degraded_responses",
            "Responses served while some model was degraded (marked X-Quanzi-Degraded).",
            ["route"],
            registry=self.registry,
        )
        self._versions: dict[str, str] = {}
        # The X-Quanzi-Degraded header while some model is degraded, else None.
        self.degraded_header: tuple[bytes, bytes] | None = None

    def count_arm(self, arm: str) -> None:
        """One feed ranking served under ``arm`` (the labelled child is cached: hot path)."""
        child = self._arm_children.get(arm)
        if child is None:
            child = self._arm_children[arm] = self.feed_arms.labels(arm=arm)
        child.inc()

    def set_model_version(self, model: str, version: str) -> None:
        """Record that ``model`` now serves ``version`` (the previous version's series goes)."""
        old = self._versions.get(model)
        if old is not None and old != version:
            self.model_version.remove(model, old)
        self._versions[model] = version
        self.model_version.labels(model=model, version=version).set(1)

    def set_degraded(self, degraded: list[dict[str, str]], marker: str) -> None:
        """After a model swap: which models are degraded, and the header responses carry."""
        self.degraded.clear()
        for entry in degraded:
            self.degraded.labels(model=entry["model"], serving=entry["serving"]).set(1)
            self.degraded_loads.labels(model=entry["model"]).inc()
        self.degraded_header = (b"x-quanzi-degraded", marker.encode()) if marker else None

    def set_index_size(self, index: str, vectors: int) -> None:
        self.index_size.labels(index=index).set(vectors)

    # The batchers' observer (serving.batching.BatchObserver).
    def batch_queue(self, name: str, depth: int) -> None:
        self.batch_queue_depth.labels(batcher=name).set(depth)

    def batch_run(self, name: str, size: int, waits_s: Sequence[float], seconds: float) -> None:
        self.batch_size.labels(batcher=name).observe(size)
        self.batch_seconds.labels(batcher=name).observe(seconds)
        wait = self.batch_wait.labels(batcher=name)
        for w in waits_s:
            wait.observe(w)

    def batch_rejected(self, name: str, reason: str, items: int = 1) -> None:
        self.batch_refused.labels(batcher=name, reason=reason).inc(items)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method=method, route=route).observe(seconds)
        self.requests.labels(method=method, route=route, status=str(status)).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request and labels it with the route *template* that served it.

    Plain ASGI (not ``BaseHTTPMiddleware``), so it adds microseconds, not a task per
    request. FastAPI's router leaves the matched route in ``scope["route"]``.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception escaping the app is a 500 to the client

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                marker = self.metrics.degraded_header
                if marker is not None:  # every answer says it was served degraded
                    message = {**message, "headers": [*message.get("headers", ()), marker]}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)
            if self.metrics.degraded_header is not None:
                self.metrics.degraded_responses.labels(route=template).inc()
