"""The shared rate limiter, driven by a fake clock: no test here waits on wall time."""

from __future__ import annotations

import random
import threading

import pytest
from canvas_helpers import FakeTime

from reconcile.canvas.ratelimit import RateLimiter


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


def test_low_remaining_cuts_the_cap_once_per_round(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
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


def test_high_remaining_grows_the_cap_additively_up_to_the_ceiling(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=6)
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


def test_cap_does_not_grow_when_demand_is_below_it(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=30.0)
    cut = limiter.cap
    for _ in range(50):
        limiter.acquire()
        limiter.release(remaining=590.0)
    assert limiter.cap == cut


def test_middle_band_holds_the_cap(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
    limiter.acquire()
    limiter.release(remaining=150.0)
    assert limiter.cap == 8.0


def test_throttle_halves_the_cap_and_pauses_everyone(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8)
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


def test_a_bucket_that_is_counted_but_not_enforced_stops_slowing_us(fake_time: FakeTime) -> None:
    limiter = make(fake_time, max_in_flight=8, unenforced_after=3)
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
