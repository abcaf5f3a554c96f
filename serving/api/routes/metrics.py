"""Prometheus exposition: request latency per route, request counts, model versions, index size."""

from __future__ import annotations

from fastapi import APIRouter, Response

from quanzi.serving.api.deps import MetricsDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def read_metrics(metrics: MetricsDep) -> Response:
    """The app's metrics in Prometheus text format (open, like the probes)."""
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
