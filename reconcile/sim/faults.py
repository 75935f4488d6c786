"""Injected faults: latency with jitter, 5xx answers, dropped connections, lost responses.

A *drop* closes the connection before the request is processed (nothing happened); a
*lost response* processes the request, then closes without answering (it happened, but
the client cannot know): the case that makes idempotent retries matter.

With a seed, every decision is a hash of (seed, request line, how many times that request
line was seen), so a test gets the same faults on every run even when its requests run
concurrently and arrive in a different order. Without a seed, decisions are random.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass

ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """The fault knobs (all off by default)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request: sleep first, then maybe fail or drop."""

    delay_s: float
    error_status: int | None
    drop: bool
    lose_response: bool = False


class Faults:
    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random()

    def _draws(self, request_line: str) -> tuple[float, ...]:
        s = self.settings
        if s.seed is None:
            with self._lock:
                return tuple(self._random.random() for _ in range(5))
        with self._lock:
            n = self._seen[request_line]
            self._seen[request_line] = n + 1
        digest = hashlib.blake2b(f"{s.seed}\0{request_line}\0{n}".encode(), digest_size=20).digest()
        return tuple(int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8, 12, 16))

    def decide(self, request_line: str) -> Decision:
        s = self.settings
        if not (s.latency_ms or s.jitter_ms or s.error_rate or s.drop_rate or s.lost_response_rate):
            return Decision(0.0, None, False)
        u_jitter, u_drop, u_error, u_status, u_lost = self._draws(request_line)
        delay = max(0.0, s.latency_ms + (2 * u_jitter - 1) * s.jitter_ms) / 1000.0
        if u_drop < s.drop_rate:
            return Decision(delay, None, True)
        if u_error < s.error_rate:
            return Decision(delay, ERROR_STATUSES[int(u_status * len(ERROR_STATUSES))], False)
        return Decision(delay, None, False, lose_response=u_lost < s.lost_response_rate)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
