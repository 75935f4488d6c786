"""Pagination, throttling, 5xx bursts, dropped connections and timeouts against the simulator.

Each test checks the result is complete and correct, not only that nothing raised."""

from __future__ import annotations

import logging
import math

import pytest
from canvas_helpers import ADMIN, many_seed

from reconcile.canvas import CanvasClient, CanvasError, TransportError

ALL_STATES = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]


def truth(served) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {e["id"]: e["workflow_state"] for e in served.simulator.enrollments()}


@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_pagination_over_many_pages_makes_the_minimum_requests(serve, per_page: int) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(2, 230))
    with served.client(per_page=per_page) as client:
        frame = client.fetch_current(["sis_course_id:C00000", "sis_course_id:C00001"])
        assert client.stats.requests == 2 * math.ceil(230 / per_page)
        assert client.stats.pages == client.stats.requests
    assert dict(zip(frame["id"].tolist(), frame["state"].tolist(), strict=True)) == truth(served)
    assert frame["id"].is_unique


def test_token_given_as_query_parameter_reaches_every_page(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(1, 25))
    # The client's own token is wrong; the caller passes the right one the old way, as
    # ?access_token=. Canvas drops it from Link URLs; the client keeps sending it (in the header).
    with served.client("wrong-token", per_page=10) as client:
        pages = list(
            client.transport.pages(
                "/api/v1/courses/sis_course_id:C00000/enrollments",
                params={"access_token": ADMIN, "per_page": 10, "state[]": ALL_STATES},
            )
        )
    assert [len(p.data) for p in pages] == [10, 10, 5]
    for page in pages:
        assert "access_token" not in page.links.get("next", "")


def test_sis_ids_with_slashes_and_spaces_in_paths(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(3, 4, course_sis=lambda c: ["A/B", "MATH 101", "Ünï-%"][c]))
    with served.client() as client:
        frame = client.fetch_current(["sis_course_id:A/B", "sis_course_id:MATH 101", "sis_course_id:Ünï-%"])
    assert sorted(frame["sis_course_id"].unique()) == sorted(["A/B", "MATH 101", "Ünï-%"])
    assert len(frame) == 12


@pytest.mark.parametrize("status", [429, 403])
def test_throttling_is_absorbed_and_the_result_is_complete(serve, status: int) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(60, 12), throttle=True, throttle_status=status, latency_ms=80)
    # 80 ms keeps requests in flight together even on a loaded machine, so the reservations overlap.
    # A bucket that 6 parallel reservations fill; 8 requests in flight must be refused. Pacing
    # would stay under it (the next test), so this one runs the AIMD limiter that does not.
    served.simulator.set_faults(hwm=300, up_front_cost=50, outflow=20, request_cost=0.05, item_cost=0.0)
    refs = [f"sis_course_id:C{c:05d}" for c in range(60)]
    with served.client(concurrency=8, per_page=5, pacing=False) as client:
        frame = client.fetch_current(refs)
        stats, limiter = client.stats, client.limiter.snapshot()
    assert stats.throttled > 0, "the scenario must actually throttle"
    assert stats.failures == 0
    assert stats.requests == 60 * 3 + stats.throttled  # every throttled request retried once more
    assert limiter.cap < 8
    assert dict(zip(frame["id"].tolist(), frame["state"].tolist(), strict=True)) == truth(served)


def test_pacing_recovers_when_canvas_reserves_more_than_it_assumes(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(16, 12), throttle=True, latency_ms=80)
    # Canvas reserves 100 a request here (it can be set per path), twice what pacing assumes:
    # the bucket (hwm 300) holds three requests in flight, the model would allow five. Its
    # refusals come with the bucket full (remaining ~0), so the limiter learns a wider margin.
    served.simulator.set_faults(hwm=300, up_front_cost=100, outflow=20, request_cost=0.05, item_cost=0.0)
    refs = [f"sis_course_id:C{c:05d}" for c in range(16)]
    with served.client(concurrency=8, per_page=5) as client:
        frame = client.fetch_current(refs)
        stats, limiter = client.stats, client.limiter.snapshot()
    assert stats.throttled > 0 and stats.failures == 0
    assert stats.requests == 16 * 3 + stats.throttled
    assert stats.throttled <= 12  # each refusal widens the margin: they stop, not recur per page
    assert limiter.cap < 8
    assert dict(zip(frame["id"].tolist(), frame["state"].tolist(), strict=True)) == truth(served)


def test_pacing_keeps_throttled_answers_rare_when_the_fetch_fills_canvass_bucket(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(58, 15), throttle=True, latency_ms=20)
    # Canvas's own bucket (hwm 600, 50 up front, 10/s out); 5 units a page, so the first
    # ~110 pages fill it and the last few have to wait for the outflow: 580 units in all,
    # about 3 s however fast the machine is.
    served.simulator.set_faults(request_cost=5.0, item_cost=0.0)
    refs = [f"sis_course_id:C{c:05d}" for c in range(58)]
    with served.client(concurrency=8, per_page=10) as client:
        frame = client.fetch_current(refs)
        stats, limiter = client.stats, client.limiter.snapshot()
    assert stats.failures == 0
    assert stats.requests - stats.throttled == 58 * 2
    assert stats.request_cost == pytest.approx(580.0)
    assert limiter.paced > 0, "the scenario must run into the bucket"
    # One refusal is the probe that shows Canvas enforces; allow one more for a loaded machine.
    assert stats.throttled <= 2
    assert stats.throttled / stats.requests <= 0.02
    assert dict(zip(frame["id"].tolist(), frame["state"].tolist(), strict=True)) == truth(served)


def test_5xx_bursts_and_dropped_connections_still_give_the_complete_result(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(20, 30), error_rate=0.25, drop_rate=0.1, fault_seed=11)
    refs = [f"sis_course_id:C{c:05d}" for c in range(20)]
    slept: list[float] = []
    with served.client(per_page=10, retries=15, sleep=slept.append) as client:  # backoff off the wall clock
        frame = client.fetch_current(refs)
        stats = client.stats
    assert len(slept) == stats.retries
    assert stats.server_errors > 0 and stats.transport_errors > 0, "the scenario must inject both faults"
    assert stats.failures == 0 and stats.retries == stats.server_errors + stats.transport_errors
    assert dict(zip(frame["id"].tolist(), frame["state"].tolist(), strict=True)) == truth(served)


def test_slow_canvas_hits_the_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(latency_ms=400)
    with served.client(timeout=0.1, retries=1) as client:
        with pytest.raises(TransportError, match="timed out") as info:
            client.get_enrollment(1004)
        assert info.value.transient and client.stats.requests == 2
    served.simulator.set_faults(latency_ms=0)
    with served.client(timeout=5.0) as client:
        assert client.get_enrollment(1004).id == 1004


def test_token_never_leaks_into_errors_or_logs(serve, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    served = serve(error_rate=1.0, fault_seed=1)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with CanvasClient(
        served.url + "/?access_token=" + ADMIN, ADMIN, retries=1, timeout=2.0, sleep=lambda s: None
    ) as client:
        for call in (
            lambda: client.get_enrollment(1004),
            lambda: client.fetch_current(["101"]),
            lambda: client.enroll_in_course(101, 11),
        ):
            with pytest.raises(CanvasError) as info:
                call()
            texts += [str(info.value), repr(info.value), str(info.value.path), str(info.value.canvas_message)]
        texts += [repr(client), repr(client.stats)]
    served.simulator.set_faults(error_rate=0.0)
    with CanvasClient(served.url, "wrong-" + ADMIN, retries=0) as client, pytest.raises(CanvasError) as info:
        client.get_enrollment(1004)
    texts += [str(info.value), repr(info.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert len(caplog.records) >= 4
    assert not [t for t in texts if ADMIN in t]
