"""Prometheus metrics: latency per route template, counts by status, gauges, per-app registry."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from quanzi.serving.app import create_app
from quanzi.settings import Settings


def _samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_requests_are_counted_by_route_template_and_status(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.get("/healthz")
        client.get("/v1/posts/p-1")  # no key: 401
        client.get("/v1/posts/p-2")
        client.get("/no/such/path/1")
        samples = _samples(client)
    get = {("method", "GET")}
    assert (
        samples[
            ("quanzi_requests_total", frozenset(get | {("route", "/healthz"), ("status", "200")}))
        ]
        == 1
    )
    assert (
        samples[
            (
                "quanzi_requests_total",
                frozenset(get | {("route", "/v1/posts/{post_id}"), ("status", "401")}),
            )
        ]
        == 2
    )
    assert (
        samples[
            (
                "quanzi_requests_total",
                frozenset(get | {("route", "<unmatched>"), ("status", "404")}),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "quanzi_request_duration_seconds_count",
                frozenset(get | {("route", "/v1/posts/{post_id}")}),
            )
        ]
        == 2
    )


def test_model_versions_and_index_size_are_exported(settings: Settings) -> None:
    app = create_app(settings)
    metrics = app.state.metrics
    metrics.set_model_version("moderation", "3")
    metrics.set_model_version("moderation", "4")  # a reload replaces the version
    metrics.set_index_size("posts", 1234)
    with TestClient(app) as client:
        samples = _samples(client)
    versions = {
        dict(k[1])["version"]: v for k, v in samples.items() if k[0] == "quanzi_model_version_info"
    }
    assert versions == {"4": 1.0}
    assert samples[("quanzi_index_vectors", frozenset({("index", "posts")}))] == 1234


def test_two_apps_keep_separate_registries(settings: Settings) -> None:
    first, second = create_app(settings), create_app(settings)
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/healthz")
        a.get("/healthz")
        b.get("/healthz")
        key = (
            "quanzi_requests_total",
            frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")}),
        )
        assert _samples(a)[key] == 2
        assert _samples(b)[key] == 1
