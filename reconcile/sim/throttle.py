"""Canvas's leaky-bucket request throttle (facts §11), one bucket per token.

A request reserves ``up_front_cost`` before it runs and holds it until it is answered
(injected latency included), so many requests in flight fill the bucket even when each
is cheap; at the end the reservation is swapped for the request's real cost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """Bucket parameters (Canvas defaults) and the simulated cost of a request."""

    enabled: bool = True
    status: int = 429
    hwm: float = 600.0
    maximum: float = 800.0
    outflow: float = 10.0
    up_front_cost: float = 50.0
    request_cost: float = 1.0
    item_cost: float = 0.01

    def body(self) -> str:
        if self.status == 403:
            return "403 Forbidden (Rate Limit Exceeded)\n"
        return "429 Too Many Requests (Rate Limit Exceeded)\n"


@dataclass(slots=True)
class _Bucket:
    count: float = 0.0
    touched: float = field(default_factory=time.monotonic)


class Throttle:
    """Thread-safe buckets keyed by client identifier (``token:...`` or ``ip:...``)."""

    def __init__(self, settings: ThrottleSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _leak(self, bucket: _Bucket, now: float) -> None:
        bucket.count = max(0.0, bucket.count - (now - bucket.touched) * self.settings.outflow)
        bucket.touched = now

    def reserve(self, client: str) -> bool:
        """Leak, add the up-front cost; False when the bucket is now full (and throttling is on).

        A refused request gives its reservation back at once.
        """
        s = self.settings
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(client, _Bucket(touched=now))
            self._leak(bucket, now)
            bucket.count = min(s.maximum, bucket.count + s.up_front_cost)
            if s.enabled and bucket.count >= s.hwm:
                bucket.count = max(0.0, bucket.count - s.up_front_cost)
                return False
            return True

    def settle(self, client: str, cost: float) -> float:
        """Swap the reservation for the real cost; return the remaining capacity (hwm - count)."""
        s = self.settings
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(client, _Bucket(touched=now))
            self._leak(bucket, now)
            bucket.count = min(s.maximum, max(0.0, bucket.count + cost - s.up_front_cost))
            return s.hwm - bucket.count

    def remaining(self, client: str) -> float:
        """hwm - count right now, as a throttled answer reports it."""
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                return self.settings.hwm
            self._leak(bucket, self._clock())
            return self.settings.hwm - bucket.count

    def cost(self, items: int) -> float:
        return round(self.settings.request_cost + self.settings.item_cost * items, 4)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
