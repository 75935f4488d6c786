"""One rate limiter shared by every thread of a client, paced by Canvas's leaky bucket.

Canvas keeps one bucket per token (facts §11). A request reserves ``up_front_cost`` (50)
on arrival and is refused if the count, with that reservation, reaches ``hwm`` (600);
while it runs it holds the reservation, which is then swapped for its real cost
(``X-Request-Cost``, seconds of CPU + DB); the bucket leaks ``outflow`` (10) units a
second. Every answer carries ``X-Rate-Limit-Remaining`` = hwm − count just after that
swap, so the figure includes the reservations of the other requests still running.

Two things bound a client: the reservations of its requests in flight (twelve parallel
requests fill 600 before any cost counts), and, once the costs themselves fill the
bucket, the outflow: a long fetch can cost no more than about ``outflow`` units a second
after its first ~550 units. The limiter has two modes.

**Pacing** (the default) keeps a model of the bucket and admits a request only when the
model says Canvas would admit it:

- the settled level (costs, no reservations) is integrated from the ``X-Request-Cost``
  of each answer (the running mean when an answer has none) and leaks at ``outflow``;
- each reading bounds it: Canvas counted the settled level plus a reservation for each
  of our requests it was running, so the level is at most hwm − remaining and at least
  that less one reservation per request that may have been running there (those still in
  flight here, and those answered here while this one ran, as answers get reordered).
  The integrated level is kept inside that range: exact when a request ran alone, as at
  the bucket's edge, and pulled up when the integral falls short (another client on the
  token, a slower outflow); the first reading, with nothing to integrate from, is taken
  at the lowest level it allows;
- each request in flight adds ``up_front_cost``;
- a request is admitted while level + up_front_cost × (in flight + 1) ≤ hwm − ``margin``;
  otherwise the thread sleeps exactly until the leak makes room, or until an answer frees
  a reservation when only that can. Every answer re-reads the bucket, so an error in the
  assumed outflow or cost lasts one request's gap, not the run;
- before the first reading the bucket is assumed half full as of the first request (about
  half its reservations go in the first burst), so a bucket left full by an earlier run
  on the same token costs a few refusals, not a burst of them;
- a throttled answer still means the model was wrong (another client on the token, a
  path with a larger up-front cost): the level is reset from that answer, the cap on
  requests in flight is halved, all threads pause (below), and the margin grows by half
  a reservation (decaying by 1% a clean answer). A refusal that leaves more room than
  one reservation shows Canvas reserves more than assumed; the model counts that much
  per request from then on.

Pacing sends no request the model expects Canvas to refuse, so alone it could not tell
an install that counts but does not enforce (``request_throttle.enabled`` off still sends
the headers) from one that does. Until a throttled answer proves enforcement, a request
that the model would hold back goes anyway as a *probe* (at most two in flight): an
enforcing Canvas refuses one (usually a single throttled answer in the limiter's life,
when a run first reaches the bucket's edge; a run that never does sends none); one that
does not enforce
answers while its bucket is past hwm (remaining < 0), and after ``unenforced_after`` such
answers the limiter stops pacing and low readings are ignored, until a throttle is seen.

**AIMD** (``pacing=False``, the earlier behaviour) bounds only the requests in flight by
an adaptive cap: below ``low_water`` remaining the cap is cut by ``decrease_factor`` (at
most once per round of in-flight requests), above ``high_water`` it grows by ``1/cap`` per
answer while it is the bottleneck. It finds the bucket's edge by being refused there.

Both modes:

- the cap never exceeds what the bucket can hold (``hwm // up_front_cost - 1``) nor the
  configured concurrency; a throttled answer halves it, above ``high_water`` it regrows;
- a throttled answer pauses *all* threads for a jittered backoff (:meth:`pause_all`, at
  least any Retry-After), since the bucket they share is full;
- the unenforced detection above; ``adaptive=False`` turns all of this off and keeps a
  fixed cap of ``max_in_flight``.

The model rests on Canvas's defaults for ``hwm``, ``up_front_cost`` and ``outflow``;
pass others if an install changes them. Near the edge only differences of remaining
matter, so a different hwm costs little. The outflow is not estimated from the readings:
they re-anchor the level on every answer instead.

What pacing cannot gain: a refused request costs Canvas nothing (it is turned away before
it runs), so a client that keeps knocking at the edge also ends near the bucket's bound.
For a run that costs C in all, no client finishes sooner than about
(C − (hwm − up_front)) ÷ outflow, since the last request must go in below hwm − up_front.
What pacing saves is the refused answers, and the pauses and retries they cause.

Clock, sleep and random source are injectable so tests run without wall-clock time.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_PROBES = 2  # probes in flight at once: the second sees the first's reservation, so a
# Canvas that does not refuse shows remaining < 0 at once, and one that does refuses it
_MARGIN_DECAY = 0.99  # per clean answer, of the margin learned from a throttled one


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
    pacing: bool = False  # True when admissions follow the bucket model
    level: float | None = None  # the model's settled level now (no reservations), pacing only
    paced: int = 0  # admissions that waited for the modelled bucket to make room
    probes: int = 0  # requests sent past the model to learn whether Canvas enforces
    mean_cost: float | None = None  # running mean of X-Request-Cost
    up_front: float | None = None  # the reservation the model counts per request, pacing only


class Slot:
    """One admitted request. Call :meth:`done` once with what its answer said."""

    __slots__ = ("_answers_before", "_limiter", "probe", "released", "sent_at", "seq")

    def __init__(self, limiter: RateLimiter, seq: int, sent_at: float, probe: bool) -> None:
        self._limiter = limiter
        self.seq = seq
        self.sent_at = sent_at
        self.probe = probe
        self.released = False
        self._answers_before = 0  # the limiter's count of answers when this one was sent

    def done(
        self, *, remaining: float | None = None, throttled: bool = False, cost: float | None = None
    ) -> None:
        """Give the slot back (``remaining`` = X-Rate-Limit-Remaining, ``cost`` = X-Request-Cost;
        both None when no answer came). A second call does nothing."""
        self._limiter._release(self, remaining=remaining, throttled=throttled, cost=cost)


class RateLimiter:
    """Admits requests while the bucket (pacing) and the cap on requests in flight allow.

    Thread-safe. Use ``with limiter.slot() as slot: ...; slot.done(remaining=..., cost=...)``
    or the explicit :meth:`acquire` / :meth:`release` pair (on the same thread).
    """

    def __init__(
        self,
        *,
        max_in_flight: int = 8,
        hwm: float = 600.0,
        up_front_cost: float = 50.0,
        outflow: float = 10.0,
        margin: float = 3.0,
        pacing: bool = True,
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
        if outflow <= 0:
            raise ValueError("outflow must be positive")
        bucket_room = max(1, int(hwm // up_front_cost) - 1)
        self.ceiling = min(max_in_flight, bucket_room) if adaptive else max_in_flight
        self.hwm = hwm
        self.up_front_cost = up_front_cost
        self.outflow = outflow
        self.margin = margin
        self.pacing = pacing and adaptive
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
        self._local = threading.local()  # this thread's slots, for acquire()/release()
        self._cap = float(self.ceiling)
        self._min_cap = self._cap
        self._in_flight = 0
        self._peak = 0
        self._waiting = 0  # threads blocked on the cap or the bucket: demand exceeds it
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
        # The bucket model (pacing).
        self._slots: dict[int, Slot] = {}
        self._seq = 0
        self._level: float | None = None  # settled level at _level_at; None before the first request
        self._level_at = 0.0
        self._read = False  # an answer has carried X-Rate-Limit-Remaining
        self._probes = 0
        self._probes_in_flight = 0
        self._learned_margin = 0.0
        self._up_front = up_front_cost  # grows if a refusal shows Canvas reserves more
        self._paced = 0
        self._answers = 0  # slots given back, answered or not
        self._cost_sum = 0.0
        self._cost_count = 0

    # -- admission -------------------------------------------------------------------

    def acquire(self) -> Slot:
        """Block until a request may be sent (cap, bucket, no throttle pause); returns its
        slot, which :meth:`release` on this thread gives back."""
        slot = self._admit()
        self._stack().append(slot)
        return slot

    def release(
        self, *, remaining: float | None = None, throttled: bool = False, cost: float | None = None
    ) -> None:
        """Give back this thread's latest slot and learn from the answer
        (``remaining`` = X-Rate-Limit-Remaining, ``cost`` = X-Request-Cost)."""
        stack = self._stack()
        while stack and stack[-1].released:  # given back through Slot.done on another thread
            stack.pop()
        slot = stack[-1] if stack else None
        self._release(slot, remaining=remaining, throttled=throttled, cost=cost)

    @contextmanager
    def slot(self) -> Iterator[Slot]:
        """``with limiter.slot() as slot:`` admits one request; call ``slot.done(...)`` with
        its answer. Leaving the block without it gives the slot back as "no answer"."""
        slot = self._admit()
        try:
            yield slot
        finally:
            if not slot.released:
                slot.done()

    def try_acquire(self) -> Slot | None:
        """Admit a request now if the limiter would, else None (it never blocks or sleeps).
        For callers that schedule their own waits; see :meth:`wait_time`."""
        with self._cond:
            now = self.clock()
            if self._paused_until > now or self._in_flight >= max(1, int(self._cap)):
                return None
            wait, probe = self._bucket_wait(now)
            return self._enter(now, probe) if wait <= 0 else None

    def wait_time(self) -> float:
        """Seconds until :meth:`try_acquire` could admit: 0 now, ``math.inf`` until a
        request in flight is released."""
        with self._cond:
            now = self.clock()
            if self._paused_until > now:
                return self._paused_until - now
            if self._in_flight >= max(1, int(self._cap)):
                return math.inf
            return max(0.0, self._bucket_wait(now)[0])

    def _admit(self) -> Slot:
        counted = False  # this admission has waited for the bucket
        while True:
            with self._cond:
                now = self.clock()
                pause = self._paused_until - now
                if pause <= 0:
                    if self._in_flight >= max(1, int(self._cap)):
                        self._wait_on_answers(None)
                        continue
                    wait, probe = self._bucket_wait(now)
                    if wait <= 0:
                        return self._enter(now, probe)
                    if not counted:
                        counted = True
                        self._paced += 1
                    if self._in_flight > 0:
                        # An answer may free a reservation sooner than the leak makes room.
                        self._wait_on_answers(None if math.isinf(wait) else wait)
                        continue
                    pause = wait
            self.sleep(pause)

    def _wait_on_answers(self, timeout: float | None) -> None:
        self._waiting += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._waiting -= 1

    def _enter(self, now: float, probe: bool) -> Slot:
        self._tick()
        if self._level is None:
            # No reading yet: assume the bucket half full, leaking from this first request.
            self._level, self._level_at = self.hwm / 2, now
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        self._seq += 1
        slot = Slot(self, self._seq, now, probe)
        slot._answers_before = self._answers
        self._slots[slot.seq] = slot
        if probe:
            self._probes += 1
            self._probes_in_flight += 1
        return slot

    def _bucket_wait(self, now: float) -> tuple[float, bool]:
        """(seconds until the model has room for one more request, whether to send it now as
        a probe). Called with the lock held; inf when only an answer can make room."""
        if not (self.pacing and self._enforced):
            return 0.0, False
        level = self._predicted(now)
        room = self.hwm - self.margin - self._learned_margin
        need = level + self._up_front * (self._in_flight + 1) - room
        if need <= 1e-6:  # rounding: a wait too short for the clock to move would spin
            return 0.0, False
        if self._read and not self._throttled and self._probes_in_flight < _PROBES:
            return 0.0, True
        if need > level:
            # The reservations in flight alone leave no room; with none in flight the
            # settings leave none at all (hwm below one reservation), and waiting cannot help.
            return (math.inf, False) if self._in_flight else (0.0, False)
        return need / self.outflow, False

    def _predicted(self, now: float) -> float:
        if self._level is None:
            return self.hwm / 2
        return max(0.0, self._level - self.outflow * max(0.0, now - self._level_at))

    # -- answers ---------------------------------------------------------------------

    def _release(
        self, slot: Slot | None, *, remaining: float | None, throttled: bool, cost: float | None
    ) -> None:
        with self._cond:
            if slot is not None:
                if slot.released:
                    return
                slot.released = True
                self._slots.pop(slot.seq, None)
                if slot.probe:
                    self._probes_in_flight -= 1
                stack = self._stack()
                if slot in stack:
                    stack.remove(slot)
            self._tick()
            self._in_flight = max(0, self._in_flight - 1)
            holding = self._hold > 0
            if holding:
                self._hold -= 1
            if cost is not None and not throttled:
                self._cost_sum += cost
                self._cost_count += 1
            if remaining is not None:
                self._last_remaining = remaining
            if self.pacing:
                # Answers taken here while this request ran may come from requests Canvas was
                # still running when it counted this one: threads and sockets reorder answers.
                overtaken = 0 if slot is None else self._answers - slot._answers_before
                self._model(remaining, throttled, cost, overtaken=overtaken)
            self._answers += 1
            if throttled:
                self._throttled += 1
                self._enforced = True
                if self.adaptive and not holding:
                    self._decrease(0.5)
                if self.pacing and not (slot is not None and slot.probe):
                    self._learned_margin = min(self.hwm / 4, self._learned_margin + self.up_front_cost / 2)
            elif remaining is not None and self.adaptive:
                self._learn(remaining, holding)
            self._cond.notify_all()

    def _model(self, remaining: float | None, throttled: bool, cost: float | None, *, overtaken: int) -> None:
        """Update the modelled level from one answer (lock held, its slot already removed).

        The level is integrated from the costs answers report and the outflow, and each
        reading bounds it. Canvas counted the settled level plus the reservation of each
        of our requests that had reached it and not yet finished. Of the others still in
        flight here, some may not have reached it yet and some may have finished with
        their answers still on the way; and an answer taken here while this request ran
        may come from a request Canvas was still running (threads and sockets reorder
        answers). So the level is at most what the reading counted and at least that less
        one reservation for each of those, and the integrated level is kept inside that
        range: exact when the request ran alone, as at the bucket's edge."""
        now = self.clock()
        running = len(self._slots)  # still in flight here
        integrated = self._predicted(now)
        if not throttled:  # a refused request never ran and costs nothing
            integrated += cost if cost is not None else self._mean_cost()
        if remaining is not None:
            if throttled and remaining > self._up_front + 1.0:
                # Refused with this much room left: Canvas reserves more than assumed (it
                # can be set per path); count at least that much from now on.
                self._up_front = remaining
            counted = self.hwm - remaining
            low = counted - self._up_front * (running + overtaken)
            # The first reading has nothing to integrate from: take what it allows at the
            # lowest (the requests of a first burst reach Canvas together).
            level = min(max(integrated, low), counted) if self._read else low
            self._read = True
        elif throttled:
            # Refused: the count with one more reservation had reached hwm.
            level = max(integrated, self.hwm - self._up_front * (1 + running + overtaken))
        else:
            level = integrated
        self._level, self._level_at = max(0.0, level), now

    def _mean_cost(self) -> float:
        return self._cost_sum / self._cost_count if self._cost_count else 1.0

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
        if self.pacing:
            self._learned_margin *= _MARGIN_DECAY
        elif remaining < self.low_water:
            if not holding:
                self._decrease(self.decrease_factor)
            return
        if remaining > self.high_water and (self._waiting or self._in_flight + 1 >= int(self._cap)):
            self._cap = min(float(self.ceiling), self._cap + 1.0 / self._cap)

    def _decrease(self, factor: float) -> None:
        self._cap = max(1.0, self._cap * factor)
        self._min_cap = min(self._min_cap, self._cap)
        self._decreases += 1
        # Answers already on their way were sent under the old cap; let them drain first.
        self._hold = max(1, self._in_flight)

    def _stack(self) -> list[Slot]:
        stack: list[Slot] | None = getattr(self._local, "slots", None)
        if stack is None:
            stack = self._local.slots = []
        return stack

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
                pacing=self.pacing,
                level=self._predicted(self.clock()) if self.pacing and self._level is not None else None,
                paced=self._paced,
                probes=self._probes,
                mean_cost=self._cost_sum / self._cost_count if self._cost_count else None,
                up_front=self._up_front if self.pacing else None,
            )
