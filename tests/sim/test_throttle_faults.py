"""Throttle (facts §11), injected faults, and the /__sim/ introspection endpoints."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.sim.conftest import Api

LIST = "/api/v1/courses/101/enrollments"


def _parallel(api: Api, n: int) -> list[requests.Response]:
    def one(_: int) -> requests.Response:
        with requests.Session() as session:
            return session.get(
                f"{api.university.url}{LIST}",
                headers={"Authorization": f"Bearer {api.university.token}"},
                timeout=10,
            )

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_every_answer_carries_cost_and_remaining(api: Api) -> None:
    response = api.get(LIST, params={"per_page": 10})
    assert float(response.headers["X-Request-Cost"]) == pytest.approx(1.1)
    assert 590 < float(response.headers["X-Rate-Limit-Remaining"]) <= 600
    error = api.get("/api/v1/courses/999/enrollments")
    assert error.status_code == 404 and "X-Request-Cost" in error.headers


def test_parallel_burst_is_throttled_while_requests_are_in_flight(api: Api) -> None:
    api.university.simulator.set_faults(latency_ms=700)
    answers = _parallel(api, 16)
    throttled = [r for r in answers if r.status_code == 429]
    assert 1 <= len(throttled) <= 5  # 11 reservations of 50 fit under the 600 high-water mark
    for response in throttled:
        assert response.text == "429 Too Many Requests (Rate Limit Exceeded)\n"
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "X-Request-Cost" not in response.headers
        assert "X-Rate-Limit-Remaining" in response.headers
        assert "Retry-After" not in response.headers
    assert all(r.status_code == 200 for r in answers if r not in throttled)
    assert api.university.simulator.stats()["throttled"] == len(throttled)


def test_eight_in_flight_stay_under_the_mark(api: Api) -> None:
    api.university.simulator.set_faults(latency_ms=300)
    assert {r.status_code for r in _parallel(api, 8)} == {200}


def test_status_403_option_and_off_switch(api: Api) -> None:
    sim = api.university.simulator
    sim.set_faults(latency_ms=700, throttle_status=403)
    forbidden = [r for r in _parallel(api, 16) if r.status_code == 403]
    assert forbidden and forbidden[0].text == "403 Forbidden (Rate Limit Exceeded)\n"
    sim.reset()
    sim.set_faults(latency_ms=300, throttle="off")
    answers = _parallel(api, 16)
    assert {r.status_code for r in answers} == {200}
    assert all("X-Rate-Limit-Remaining" in r.headers for r in answers)


def test_costs_accumulate_and_leak_per_token(api: Api) -> None:
    api.university.simulator.set_faults(request_cost=100, item_cost=0)
    statuses = [api.get(LIST).status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]
    other = api.as_(api.university.teacher_token).get(LIST)
    assert other.status_code == 200  # a separate bucket
    assert float(other.headers["X-Rate-Limit-Remaining"]) == pytest.approx(500, abs=2)


def test_error_rate_gives_5xx_with_canvas_body(api: Api) -> None:
    api.university.simulator.set_faults(error_rate=1.0, seed=1)
    statuses = set()
    for _ in range(12):
        response = api.get(LIST)
        statuses.add(response.status_code)
        assert response.json()["errors"][0]["message"] == "An error occurred."
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    assert api.university.simulator.stats()["faults"]["errors"] == 12


def test_dropped_connections_close_without_answer(api: Api) -> None:
    api.university.simulator.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.as_(api.university.token).get(LIST)
    assert api.university.simulator.stats()["faults"]["drops"] == 1
    # the introspection routes are never faulted
    assert requests.get(f"{api.university.url}/__sim/stats", timeout=5).status_code == 200


def test_latency_with_jitter(api: Api) -> None:
    api.university.simulator.set_faults(latency_ms=150, jitter_ms=50, seed=3)
    started = time.perf_counter()
    api.get(LIST)
    assert 0.09 <= time.perf_counter() - started < 1.0


def test_faults_are_repeatable_with_a_seed(api: Api) -> None:
    def run() -> list[int]:
        api.university.simulator.reset()
        api.university.simulator.set_faults(error_rate=0.5, seed=42, throttle="off")
        return [api.get(LIST, params={"n": i % 3}).status_code for i in range(24)]

    first = run()
    assert first == run()
    assert 200 in first and any(s >= 500 for s in first)


def test_faults_endpoint(api: Api) -> None:
    url = f"{api.university.url}/__sim/faults"
    response = requests.put(
        url, json={"error_rate": 0.25, "latency_ms": 5, "throttle": "off", "throttle_status": 403}, timeout=5
    )
    assert response.status_code == 200
    knobs = requests.get(url, timeout=5).json()
    assert (knobs["error_rate"], knobs["latency_ms"], knobs["throttle"], knobs["throttle_status"]) == (
        0.25,
        5,
        False,
        403,
    )
    assert requests.put(url, json={"nonsense": 1}, timeout=5).status_code == 400
    assert requests.put(url, json={"error_rate": -1}, timeout=5).status_code == 400


def test_stats_and_reset_endpoints(api: Api) -> None:
    api.get(LIST)
    api.enroll(102, user_id=25, course_section_id=203)
    api.delete("/api/v1/courses/101/enrollments/1005")
    stats = requests.get(f"{api.university.url}/__sim/stats", timeout=5).json()
    assert stats["requests"] == {
        "DELETE /api/v1/courses/:id/enrollments/:id": 1,
        "GET /api/v1/courses/:id/enrollments": 1,
        "POST /api/v1/courses/:id/enrollments": 1,
    }
    assert (stats["reads"], stats["writes"], stats["throttled"]) == (1, 2, 0)
    rows = requests.get(f"{api.university.url}/__sim/enrollments", timeout=5).json()
    assert any(r["workflow_state"] == "deleted" for r in rows)
    assert next(r for r in rows if r["id"] == 1005)["workflow_state"] == "completed"
    assert requests.post(f"{api.university.url}/__sim/reset", timeout=5).json() == {"reset": True}
    assert requests.get(f"{api.university.url}/__sim/stats", timeout=5).json()["total"] == 0
    assert api.row(1005)["workflow_state"] == "active"
    assert len(api.university.simulator.enrollments()) == len(rows) - 1


def test_lost_response_applies_the_write_but_never_answers(api: Api) -> None:
    api.university.simulator.set_faults(lost_response_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.as_(api.university.token).delete(
            "/api/v1/courses/101/enrollments/1005", params={"task": "delete"}
        )
    assert api.row(1005)["workflow_state"] == "deleted"
    stats = api.university.simulator.stats()
    assert stats["faults"]["lost_responses"] == 1 and stats["writes"] == 1
    api.university.simulator.set_faults(lost_response_rate=0.0)
    # the retry a client would make: the effect already holds
    assert api.delete("/api/v1/courses/101/enrollments/1005", params={"task": "delete"}).status_code == 404


def test_a_handler_crash_is_a_canvas_500_with_a_report_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconcile.sim import api_state

    def boom(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(api_state, "_enrollment_in_course", boom)
    response = api.delete("/api/v1/courses/101/enrollments/1005")
    assert response.status_code == 500
    assert response.json() == {
        "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}],
        "error_report_id": 1,
    }
    (trace,) = api.university.simulator.stats()["internal_errors"]
    assert "simulated bug" in trace
