"""Per-key rate limits: a token bucket per API key in each worker, sized by the key's role.

Why in memory: the check runs on every request, the feed's included (a few hundred per
second per worker), so it must cost microseconds and no database read. The bucket of a key
holds ``rate × burst_s`` tokens and refills at ``rate`` per second; a request takes one.
Limits are per worker process: with N workers a key may reach N × its rate in total,
which is the bound to plan with (``docs/scale.md``).
"""

from __future__ import annotations

import math
import threading
import time

from quanzi.settings import Settings


class RateLimiter:
    """Token buckets keyed by API key id; ``take`` answers None or the seconds to wait."""

    def __init__(self, rates: dict[str, float], burst_s: float, max_keys: int = 65536) -> None:
        self.rates = dict(rates)
        self.burst_s = burst_s
        self.max_keys = max_keys
        self._buckets: dict[int, list[float]] = {}  # key id → [tokens, last refill time]
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, roles: tuple[str, ...]) -> RateLimiter:
        return cls({role: settings.rate_limit(role) for role in roles}, settings.rate_limit_burst_s)

    def take(self, key_id: int, role: str) -> float | None:
        """Spend one token of this key: None when allowed, else seconds until one is back."""
        rate = self.rates.get(role, 0.0)
        if rate <= 0:
            return None
        capacity = max(1.0, rate * self.burst_s)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._buckets.clear()  # bounded memory; a cleared key starts full
                bucket = self._buckets[key_id] = [capacity, now]
            tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return None
            bucket[0] = tokens
            return (1.0 - tokens) / rate


def retry_after(seconds: float) -> str:
    """``Retry-After`` in whole seconds (at least 1)."""
    return str(max(1, math.ceil(seconds)))
