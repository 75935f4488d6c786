"""One rate limiter shared by every thread of a client, shaped by Canvas's leaky bucket.

Canvas keeps one bucket per token (facts §11): each request reserves ``up_front_cost``
(50) on arrival and is refused while the bucket holds ``hwm`` (600) or more; the real
cost (seconds of CPU + DB) is added when it finishes, and the bucket leaks 10 units a
second. So the number of requests in flight is what fills the bucket fastest: twelve
parallel requests reach 600 before any cost is counted.

The limiter therefore bounds requests in flight by an adaptive cap (AIMD):

- the cap never exceeds what the bucket can hold (``hwm // up_front_cost - 1``) nor the
  configured concurrency;
- every response's ``X-Rate-Limit-Remaining`` is read: below ``low_water`` the cap is cut
  by ``decrease_factor`` (at most once per round of in-flight requests, so one burst of
  low readings does not collapse it), above ``high_water`` and while the cap is the
  bottleneck it grows by ``1/cap`` per response (about +1 per round trip);
- a throttled answer halves the cap and pauses *all* threads for a jittered backoff,
  since the bucket they share is full;
- an install that counts but does not enforce (Canvas with ``request_throttle.enabled``
  off still sends the headers) shows itself by answering while its bucket is past the
  high-water mark: after ``unenforced_after`` such answers and no throttled one, the
  cap returns to the ceiling and low readings are ignored, until a throttle is seen.

Clock, sleep and random source are injectable so tests run without wall-clock time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class LimiterSnapshot:
    """What the limiter has seen, for summaries and benchmarks."""

    cap: float
    in_flight: int
    peak_in_flight: int
    min_cap: float
    last_remaining: float | None
    throttled: int
    decreases: int
    enforced: bool  # False once the server proved it counts without refusing
    mean_in_flight: float  # time-weighted over the limiter's busy life


class RateLimiter:
    """Admits requests while fewer than ``cap`` are in flight; adapts ``cap`` to the bucket.

    Thread-safe. Use ``with limiter.slot() as slot: ...; slot.done(headers...)`` or the
    explicit :meth:`acquire` / :meth:`release` pair.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = 8,
        hwm: float = 600.0,
        up_front_cost: float = 50.0,
        low_water: float | None = None,
        high_water: float | None = None,
        decrease_factor: float = 0.7,
        base_backoff: float = 0.5,
        max_backoff: float = 30.0,
        adaptive: bool = True,
        unenforced_after: int = 5,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        bucket_room = max(1, int(hwm // up_front_cost) - 1)
        self.ceiling = min(max_in_flight, bucket_room) if adaptive else max_in_flight
        self.up_front_cost = up_front_cost
        # Keep room for two more reservations before Canvas would start refusing.
        self.low_water = 2 * up_front_cost if low_water is None else low_water
        self.high_water = 4 * up_front_cost if high_water is None else high_water
        self.decrease_factor = decrease_factor
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.adaptive = adaptive
        self.unenforced_after = unenforced_after
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._cond = threading.Condition()
        self._cap = float(self.ceiling)
        self._min_cap = self._cap
        self._in_flight = 0
        self._peak = 0
        self._waiting = 0  # threads blocked on the cap: demand exceeds it
        self._hold = 0  # responses to ignore for decreases after a decrease
        self._paused_until = 0.0
        self._last_remaining: float | None = None
        self._throttled = 0
        self._overdrawn = 0  # successes with the bucket past hwm (remaining < 0)
        self._enforced = True
        self._decreases = 0
        self._area = 0.0  # integral of in_flight over time, for the mean
        self._busy = 0.0
        self._last_tick: float | None = None

    # -- admission -------------------------------------------------------------------

    def acquire(self) -> None:
        """Block until a request may be sent (cap not reached, no throttle pause)."""
        while True:
            with self._cond:
                pause = self._paused_until - self.clock()
                if pause <= 0:
                    while self._in_flight >= max(1, int(self._cap)):
                        self._waiting += 1
                        try:
                            self._cond.wait()
                        finally:
                            self._waiting -= 1
                    pause = self._paused_until - self.clock()
                    if pause <= 0:
                        self._tick()
                        self._in_flight += 1
                        self._peak = max(self._peak, self._in_flight)
                        return
            self.sleep(pause)

    def release(self, *, remaining: float | None = None, throttled: bool = False) -> None:
        """Give the slot back and learn from the answer (``remaining`` = X-Rate-Limit-Remaining)."""
        with self._cond:
            self._tick()
            self._in_flight -= 1
            holding = self._hold > 0
            if holding:
                self._hold -= 1
            if remaining is not None:
                self._last_remaining = remaining
            if throttled:
                self._throttled += 1
                self._enforced = True
                if self.adaptive and not holding:
                    self._decrease(0.5)
            elif remaining is not None and self.adaptive:
                self._learn(remaining, holding)
            self._cond.notify_all()

    def _learn(self, remaining: float, holding: bool) -> None:
        if remaining < 0 and self._enforced and not self._throttled:
            self._overdrawn += 1
            if self._overdrawn >= self.unenforced_after:
                # Canvas refuses every request once the bucket passes hwm; these went through.
                self._enforced = False
                self._cap = float(self.ceiling)
                self._hold = 0
        if not self._enforced:
            return
        if remaining < self.low_water:
            if not holding:
                self._decrease(self.decrease_factor)
        elif remaining > self.high_water and (self._waiting or self._in_flight + 1 >= int(self._cap)):
            self._cap = min(float(self.ceiling), self._cap + 1.0 / self._cap)

    def _decrease(self, factor: float) -> None:
        self._cap = max(1.0, self._cap * factor)
        self._min_cap = min(self._min_cap, self._cap)
        self._decreases += 1
        # Answers already on their way were sent under the old cap; let them drain first.
        self._hold = max(1, self._in_flight)

    # -- backoff ---------------------------------------------------------------------

    def backoff_delay(self, attempt: int) -> float:
        """Jittered exponential delay for retry ``attempt`` (1-based): half fixed, half random."""
        ceiling = min(self.max_backoff, self.base_backoff * (2 ** max(0, attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def pause_all(self, attempt: int, *, at_least: float = 0.0) -> float:
        """After a throttled answer: hold every thread back for a jittered backoff (at least
        ``at_least`` seconds, e.g. a Retry-After); returns it."""
        delay = max(self.backoff_delay(attempt), at_least)
        with self._cond:
            self._paused_until = max(self._paused_until, self.clock() + delay)
        return delay

    # -- introspection ---------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock()
        if self._last_tick is not None and self._in_flight > 0:
            elapsed = max(0.0, now - self._last_tick)
            self._area += self._in_flight * elapsed
            self._busy += elapsed
        self._last_tick = now

    @property
    def cap(self) -> float:
        """The current limit on requests in flight."""
        with self._cond:
            return self._cap

    def snapshot(self) -> LimiterSnapshot:
        """A consistent copy of the limiter's figures."""
        with self._cond:
            return LimiterSnapshot(
                cap=self._cap,
                in_flight=self._in_flight,
                peak_in_flight=self._peak,
                min_cap=self._min_cap,
                last_remaining=self._last_remaining,
                throttled=self._throttled,
                decreases=self._decreases,
                enforced=self._enforced,
                mean_in_flight=self._area / self._busy if self._busy else 0.0,
            )
