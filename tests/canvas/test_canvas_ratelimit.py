"""The shared rate limiter, driven by a fake clock: no test here waits on wall time.

The first tests pin the AIMD mode (``pacing=False``, the earlier default, still selectable):
a single thread there holds many slots at once, which pacing would hold back. The pacing
tests drive the limiter against the simulator's own bucket on the fake clock."""

from __future__ import annotations

import heapq
import math
import random
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from canvas_helpers import FakeTime

from reconcile.canvas.ratelimit import RateLimiter, Slot
from reconcile.sim.throttle import Throttle, ThrottleSettings


def make(fake: FakeTime, **kwargs: object) -> RateLimiter:
    return RateLimiter(clock=fake.clock, sleep=fake.sleep, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


def test_cap_never_exceeds_what_the_bucket_holds(fake_time: FakeTime) -> None:
    # 600 / 50 = 12 reservations fill the bucket; keep one spare
    assert make(fake_time, max_in_flight=32).ceiling == 11
    assert make(fake_time, max_in_flight=4).ceiling == 4
    assert make(fake_time, max_in_flight=32, adaptive=False).ceiling == 32


def test_in_flight_is_bounded_by_the_cap_across_threads(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=3)
    gate = threading.Event()
    entered = threading.Semaphore(0)
    peak = []

    def worker() -> None:
        limiter.acquire()
        entered.release()
        peak.append(limiter.snapshot().in_flight)
        gate.wait(5)
        limiter.release(remaining=590.0)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for _ in range(3):
        assert entered.acquire(timeout=5)
    assert not entered.acquire(timeout=0.2)  # the fourth waits
    assert limiter.snapshot().in_flight == 3
    gate.set()
    for t in threads:
        t.join(5)
    assert max(peak) <= 3
    assert limiter.snapshot().in_flight == 0
    assert limiter.snapshot().peak_in_flight == 3


def test_aimd_low_remaining_cuts_the_cap_once_per_round(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=8)
    for _ in range(8):
        limiter.acquire()
    limiter.release(remaining=60.0)  # below low water (100): cut
    assert limiter.cap == pytest.approx(8 * 0.7)
    for _ in range(7):  # the rest of that round was sent under the old cap: no further cuts
        limiter.release(remaining=40.0)
    assert limiter.cap == pytest.approx(8 * 0.7)
    limiter.acquire()
    limiter.release(remaining=40.0)  # a new round still low: cut again
    assert limiter.cap == pytest.approx(8 * 0.7 * 0.7)
    assert limiter.snapshot().decreases == 2


def test_aimd_high_remaining_grows_the_cap_additively_up_to_the_ceiling(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=6)
    for _ in range(6):
        limiter.acquire()
    limiter.release(remaining=30.0)
    cut = limiter.cap
    for _ in range(5):
        limiter.release(remaining=590.0)
    rounds = 0
    while limiter.cap < 6 and rounds < 100:
        full = int(limiter.cap)  # keep the limiter saturated, as a busy fetch does
        for _ in range(full):
            limiter.acquire()
        for _ in range(full):
            limiter.release(remaining=590.0)
        rounds += 1
    assert cut < limiter.cap == 6.0
    assert rounds > 1  # additive, not a jump back


def test_aimd_cap_does_not_grow_when_demand_is_below_it(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=30.0)
    cut = limiter.cap
    for _ in range(50):
        limiter.acquire()
        limiter.release(remaining=590.0)
    assert limiter.cap == cut


def test_aimd_middle_band_holds_the_cap(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=150.0)
    assert limiter.cap == 8.0


def test_aimd_throttle_halves_the_cap_and_pauses_everyone(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=20.0, throttled=True)
    assert limiter.cap == 4.0
    delay = limiter.pause_all(1)
    assert 0.25 <= delay <= 0.5
    before = fake_time.now
    limiter.acquire()  # must sit out the pause (on the fake clock)
    assert fake_time.now >= before + delay
    assert fake_time.slept and sum(fake_time.slept) == pytest.approx(delay)
    assert limiter.snapshot().throttled == 1


def test_non_adaptive_limiter_keeps_its_cap(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8, adaptive=False)
    limiter.acquire()
    limiter.release(remaining=1.0, throttled=True)
    assert limiter.cap == 8.0


def test_backoff_is_exponential_jittered_and_bounded(fake_time: FakeTime) -> None:
    limiter = make(fake_time, base_backoff=0.5, max_backoff=8.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = {limiter.backoff_delay(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_mean_in_flight_is_time_weighted(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=4)
    limiter.acquire()
    limiter.acquire()
    fake_time.now += 1.0
    limiter.release(remaining=500.0)
    fake_time.now += 1.0
    limiter.release(remaining=500.0)
    assert limiter.snapshot().mean_in_flight == pytest.approx(1.5)


def test_aimd_a_bucket_that_is_counted_but_not_enforced_stops_slowing_us(fake_time: FakeTime) -> None:
    limiter = make(fake_time, pacing=False, max_in_flight=8, unenforced_after=3)
    for _ in range(8):
        limiter.acquire()
    for _ in range(8):
        limiter.release(remaining=-150.0)  # past hwm, yet answered: the install does not refuse
    assert limiter.cap == 8.0 and not limiter.snapshot().enforced
    limiter.acquire()
    limiter.release(remaining=-200.0)
    assert limiter.cap == 8.0
    limiter.acquire()
    limiter.release(remaining=10.0, throttled=True)  # a throttle proves enforcement again
    assert limiter.snapshot().enforced and limiter.cap == 4.0


# -- pacing --------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    answered: int
    throttled: int
    cost: float
    peak: int


def drive(
    limiter: RateLimiter,
    bucket: Throttle,
    fake: FakeTime,
    *,
    requests: int,
    workers: int = 8,
    latency: float = 0.05,
    cost: float = 2.0,
    jitter: float = 0.2,
    token: str = "token:t",
) -> Run:
    """``requests`` requests from ``workers`` workers against Canvas's bucket (the simulator's),
    one thread on the fake clock: a refused request answers at once, an admitted one after
    ``latency`` (± ``jitter`` of it, seeded, so the workers drift apart as real ones do),
    settling its ``cost``. Every worker retries a refused request, as the
    transport does (after :meth:`RateLimiter.pause_all`)."""
    started = fake.now
    rng = random.Random(3)
    running: list[tuple[float, int, Slot]] = []
    answered = throttled = peak = 0
    streak = 0  # consecutive refusals, the transport's throttle attempt
    spent = 0.0
    while answered < requests:
        while len(running) < workers and answered + len(running) < requests:
            slot = limiter.try_acquire()
            if slot is None:
                break
            if not bucket.reserve(token):
                throttled += 1
                streak += 1
                slot.done(remaining=max(0.0, bucket.remaining(token)), throttled=True)
                limiter.pause_all(streak)
                continue
            heapq.heappush(
                running, (fake.now + latency * rng.uniform(1 - jitter, 1 + jitter), slot.seq, slot)
            )
            peak = max(peak, len(running))
        more = len(running) < workers and answered + len(running) < requests
        wait = limiter.wait_time() if more else math.inf
        next_answer = running[0][0] if running else math.inf
        assert min(wait, next_answer) < math.inf, "the limiter holds back with nothing in flight"
        fake.now = min(fake.now + wait, next_answer) if wait > 0 else fake.now
        while running and running[0][0] <= fake.now:
            _, _, slot = heapq.heappop(running)
            remaining = bucket.settle(token, cost)
            slot.done(remaining=remaining, cost=cost)
            answered += 1
            spent += cost
            streak = 0
    return Run(fake.now - started, answered, throttled, spent, peak)


def canvas_bucket(fake: FakeTime, **settings: Any) -> Throttle:
    return Throttle(ThrottleSettings(**settings), clock=fake.clock)


def attainable(run: Run, *, hwm: float = 600.0, up_front: float = 50.0, outflow: float = 10.0) -> float:
    """Shortest wall Canvas's bucket allows for the run's cost: everything but what the bucket
    can hold at the end (the last request went in below hwm - up_front) has to leak out."""
    return (run.cost - (hwm - up_front) - 2.0) / outflow


def test_pacing_holds_a_long_fetch_at_the_outflow_with_one_refusal(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    run = drive(limiter, canvas_bucket(fake_time), fake_time, requests=700)
    snap = limiter.snapshot()
    assert run.answered == 700
    # The one refusal is the probe that proves Canvas enforces its bucket.
    assert run.throttled == 1 and snap.throttled == 1 and snap.probes >= 1
    assert snap.enforced and snap.pacing
    assert snap.mean_cost == pytest.approx(2.0)
    assert attainable(run) / run.wall > 0.97
    assert run.peak >= 5  # the first burst spends the empty bucket in parallel


def test_aimd_reaches_the_same_edge_by_being_refused(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8, pacing=False)
    run = drive(limiter, canvas_bucket(fake_time), fake_time, requests=700)
    assert run.answered == 700
    assert run.throttled > 35  # more than 5% of the answers: what pacing is for


def test_first_burst_assumes_the_bucket_half_full(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    slots = []
    while (slot := limiter.try_acquire()) is not None:
        slots.append(slot)
    # 300 assumed + 5 x 50 reserved stays under 600 - margin; a sixth would not
    assert len(slots) == 5 and limiter.snapshot().probes == 0
    assert limiter.wait_time() > 0
    slots[0].done(remaining=598.0, cost=2.0)  # the real bucket is nearly empty
    more = 0
    while limiter.try_acquire() is not None:
        more += 1
    assert more == 4  # up to the cap of 8


def test_a_bucket_left_full_by_an_earlier_run_costs_only_the_first_burst(fake_time: FakeTime) -> None:
    bucket = canvas_bucket(fake_time)
    for _ in range(11):  # another run on the same token left it at 550
        assert bucket.reserve("token:t")
        bucket.settle("token:t", 50.0)
    limiter = make(fake_time, max_in_flight=8)
    run = drive(limiter, bucket, fake_time, requests=100)
    assert run.answered == 100
    assert run.throttled <= 5  # the half-full guess lets 5 go before the first answer


def test_readings_bound_the_level_integrated_from_costs(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    first, second, third = (limiter.try_acquire() for _ in range(3))
    assert first and second and third

    def level() -> float | None:
        return limiter.snapshot().level

    second.done(remaining=500.0, cost=1.0)
    # 100 counted, with up to two reservations of 50 (the first and third requests', if
    # Canvas was still running them): the first reading takes the lowest level it allows
    assert level() == pytest.approx(0.0)
    first.done(remaining=450.0, cost=1.0)
    # integrated: 0 + 1; 150 counted may hold the third's reservation and the second's (its
    # answer came first here, but Canvas may have finished it later): at least 50
    assert level() == pytest.approx(50.0)
    fake_time.now += 2.0
    assert level() == pytest.approx(30.0)  # leaks at 10/s
    fourth = limiter.try_acquire()
    assert fourth
    third.done(remaining=470.0, cost=1.0)
    # 130 counted, with up to three reservations in it: the integrated 30 + 1 is kept
    assert level() == pytest.approx(31.0)
    fourth.done()  # no answer (a dropped connection): counted at the mean cost
    assert level() == pytest.approx(32.0)
    alone = limiter.try_acquire()
    assert alone
    alone.done(remaining=400.0, cost=1.0)
    assert level() == pytest.approx(200.0)  # it ran alone: the reading is exact


def test_pacing_sleeps_out_the_pause_then_exactly_until_the_bucket_has_room(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=20.0, throttled=True)
    assert limiter.cap == 4.0 and limiter.snapshot().throttled == 1
    delay = limiter.pause_all(1)
    assert 0.25 <= delay <= 0.5
    before = fake_time.now
    limiter.acquire()
    # 580 in the bucket; one reservation fits under 600 - 3 (margin) - 25 (learned from the
    # throttle, half a reservation) once 58 have leaked: 5.8 s, the pause included
    assert fake_time.now - before == pytest.approx(5.8)
    assert fake_time.slept[0] == pytest.approx(delay)
    assert sum(fake_time.slept) == pytest.approx(5.8) and limiter.snapshot().paced == 1


def test_pacing_notices_a_bucket_that_is_counted_but_not_enforced(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    bucket = canvas_bucket(fake_time, enabled=False)
    run = drive(limiter, bucket, fake_time, requests=2000)
    snap = limiter.snapshot()
    assert run.throttled == 0 and not snap.enforced and snap.probes >= 5
    # Paced, the cost (2 a request) would take (4,000 - 550) / 10 = 345 s; unpaced, 8 in flight
    # take 2,000 x 0.05 / 8 = 12.5 s.
    assert run.wall < 30


def test_an_up_front_cost_larger_than_assumed_is_learned_from_refusals(fake_time: FakeTime) -> None:
    # Canvas may reserve more for some paths than the 50 the model assumes.
    limiter = make(fake_time, max_in_flight=8)
    run = drive(limiter, canvas_bucket(fake_time, up_front_cost=90.0), fake_time, requests=600)
    assert run.answered == 600
    assert run.throttled <= 12  # 2% of the answers
    up_front = limiter.snapshot().up_front
    assert up_front is not None and up_front > 80  # read off the room a refusal left


def test_slot_gives_back_on_exit_and_done_is_idempotent(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=2)
    with pytest.raises(RuntimeError), limiter.slot():
        assert limiter.snapshot().in_flight == 1
        raise RuntimeError("no answer")
    assert limiter.snapshot().in_flight == 0
    with limiter.slot() as slot:
        slot.done(remaining=590.0, cost=1.5)
        slot.done(remaining=10.0)
    snap = limiter.snapshot()
    assert snap.in_flight == 0 and snap.last_remaining == 590.0 and snap.mean_cost == 1.5
