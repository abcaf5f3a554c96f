"""Throughput of a predictor as the service calls it: ``predict`` on batches of records."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from quanzi.models.predictor import Predictor

SPEED_BATCH = 256  # records per predict call, as the service batches them


def measure_speed(
    predictor: Predictor,
    records: Sequence[dict[str, Any]],
    batch: int = SPEED_BATCH,
    min_posts: int = 2000,
) -> tuple[float, float]:
    """Posts per wall-clock second and per CPU second of ``predict`` over ``records``
    (repeated up to ``min_posts``) in batches of ``batch``; the CPU figure is robust to a
    busy shared machine. (0, 0) without records."""
    if not records:
        return 0.0, 0.0
    pool = (list(records) * (min_posts // len(records) + 1))[:min_posts]
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(pool), batch):
        predictor.predict(pool[i : i + batch])
    return (
        len(pool) / (time.perf_counter() - wall),
        len(pool) / max(time.process_time() - cpu, 1e-9),
    )
