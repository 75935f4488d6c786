"""The transport over real HTTP against a scripted server: retries, throttling, timeouts,
dropped connections, token handling. Backoff sleeps run on a fake clock."""

from __future__ import annotations

import logging
import random

import pytest
from canvas_helpers import TOKEN, Answer, FakeTime, ScriptedServer, Seen

from reconcile.canvas import (
    BadRequest,
    CanvasClient,
    CanvasError,
    Forbidden,
    NotFound,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
)
from reconcile.plan import Request

THROTTLE_403 = Answer(
    403,
    "403 Forbidden (Rate Limit Exceeded)\n",
    {"Content-Type": "text/plain; charset=utf-8", "X-Rate-Limit-Remaining": "12.5"},
)
THROTTLE_429 = Answer(429, "429 Too Many Requests (Rate Limit Exceeded)\n", {"Content-Type": "text/plain"})


def client_for(server: ScriptedServer, fake: FakeTime, **kwargs: object) -> CanvasClient:
    options: dict[str, object] = {
        "timeout": 2.0,
        "retries": 3,
        "clock": fake.clock,
        "sleep": fake.sleep,
        "rng": random.Random(1),
    }
    options.update(kwargs)
    return CanvasClient(server.url, TOKEN, **options)  # type: ignore[arg-type]


def sequence(*answers: Answer) -> object:
    def script(seen: Seen, n: int) -> Answer:
        return answers[min(n, len(answers)) - 1]

    return script


@pytest.mark.parametrize("throttle", [THROTTLE_403, THROTTLE_429])
def test_throttled_requests_are_retried_not_failed(
    scripted: ScriptedServer, fake_time: FakeTime, throttle: Answer
) -> None:
    scripted.script = sequence(
        throttle,
        throttle,
        Answer(200, {"id": 1, "workflow_state": "queued"}, {"X-Rate-Limit-Remaining": "550.0"}),
    )
    with client_for(scripted, fake_time) as client:
        progress = client.get_progress(1)
        assert progress.id == 1
        stats = client.stats
    assert stats.requests == 3 and stats.throttled == 2 and stats.retries == 2 and stats.failures == 0
    assert fake_time.slept, "backed off on the fake clock"
    assert client.limiter.cap < 8


def test_throttle_retries_are_bounded(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(THROTTLE_429)
    with client_for(scripted, fake_time, throttle_retries=4) as client, pytest.raises(Throttled) as info:
        client.get_progress(1)
    assert len(scripted.seen) == 5
    assert info.value.transient and info.value.status == 429
    assert client.stats.failures == 1


def test_plain_403_is_forbidden_and_not_retried(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    body = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
    scripted.script = sequence(Answer(403, body))
    with client_for(scripted, fake_time) as client, pytest.raises(Forbidden) as info:
        client.get_progress(1)
    assert info.value.canvas_message == "user not authorized to perform that action"
    assert len(scripted.seen) == 1


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (
            400,
            {"message": "Can't add an enrollment to a concluded course."},
            BadRequest,
            "Can't add an enrollment to a concluded course.",
        ),
        (401, {"errors": [{"message": "Invalid access token."}]}, Unauthorized, "Invalid access token."),
        (
            404,
            {"errors": [{"message": "The specified resource does not exist."}]},
            NotFound,
            "The specified resource does not exist.",
        ),
        (
            400,
            {"errors": "Too many users to enroll at once."},
            BadRequest,
            "Too many users to enroll at once.",
        ),
        (400, {"error": "enrollment not inactive"}, BadRequest, "enrollment not inactive"),
    ],
)
def test_error_answers_become_typed_errors(
    scripted: ScriptedServer,
    fake_time: FakeTime,
    status: int,
    body: object,
    cls: type[CanvasError],
    message: str,
) -> None:
    scripted.script = sequence(Answer(status, body))
    with client_for(scripted, fake_time) as client, pytest.raises(cls) as info:
        client.reactivate_enrollment("sis_course_id:M/1", 5)
    error = info.value
    assert error.status == status and error.canvas_message == message and error.method == "PUT"
    assert error.path == "/api/v1/courses/sis_course_id:M%2F1/enrollments/5/reactivate"
    assert len(scripted.seen) == 1


def test_5xx_burst_on_get_is_retried_with_backoff(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(
        Answer(502, "bad gateway"), Answer(503, ""), Answer(200, {"id": 2, "workflow_state": "completed"})
    )
    with client_for(scripted, fake_time) as client:
        assert client.get_progress(2).done
        assert client.stats.server_errors == 2 and client.stats.retries == 2
    assert len(fake_time.slept) == 2 and fake_time.slept[1] >= fake_time.slept[0] * 0.5


def test_5xx_retries_are_bounded(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(
        Answer(500, {"errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]})
    )
    with client_for(scripted, fake_time, retries=2) as client, pytest.raises(ServerError) as info:
        client.get_progress(2)
    assert len(scripted.seen) == 3 and info.value.transient
    assert "after 2 retries" in str(info.value)


def test_enrollment_post_is_retried_but_accept_is_not(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    enrollment = {
        "id": 7,
        "course_id": 1,
        "user_id": 2,
        "type": "StudentEnrollment",
        "role": "StudentEnrollment",
        "enrollment_state": "active",
    }
    scripted.script = sequence(Answer(503, ""), Answer(200, enrollment))
    with client_for(scripted, fake_time) as client:
        assert client.enroll_in_course(1, 2, enrollment_state="active").id == 7
    scripted.seen.clear()
    scripted.script = sequence(Answer(503, ""), Answer(200, {"success": True}))
    with client_for(scripted, fake_time) as client, pytest.raises(ServerError):
        client.accept_enrollment(1, 7)
    assert len(scripted.seen) == 1


def test_dropped_connection_is_retried_for_get(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(
        Answer(drop=True), Answer(drop=True), Answer(200, {"id": 3, "workflow_state": "running"})
    )
    with client_for(scripted, fake_time) as client:
        assert client.get_progress(3).workflow_state == "running"
        assert client.stats.transport_errors == 2


def test_dropped_connection_fails_after_retries(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(Answer(drop=True))
    with client_for(scripted, fake_time, retries=1) as client, pytest.raises(TransportError) as info:
        client.get_progress(3)
    assert info.value.transient and info.value.status is None
    assert len(scripted.seen) == 2


def test_read_timeout_is_a_transport_error(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(Answer(200, {"id": 4, "workflow_state": "queued"}, delay=0.6))
    with (
        client_for(scripted, fake_time, timeout=0.2, retries=1) as client,
        pytest.raises(TransportError, match="timed out"),
    ):
        client.get_progress(4)
    assert len(scripted.seen) == 2


def test_connection_refused_is_a_transport_error(fake_time: FakeTime) -> None:
    server = ScriptedServer()
    url = server.url
    server.close()
    with CanvasClient(url, TOKEN, retries=1, clock=fake_time.clock, sleep=fake_time.sleep) as client:
        with pytest.raises(TransportError, match="refused|failed"):
            client.get_progress(1)
        assert client.stats.requests == 2


def test_pagination_follows_next_verbatim_and_keeps_the_token_out_of_urls(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    def script(seen: Seen, n: int) -> Answer:
        base = f"{scripted.url}/api/v1/courses/1/enrollments"
        if n == 1:
            link = f'<{base}?page=first&per_page=2>; rel="current",<{base}?page=bookmark:abc%3D&per_page=2&state%5B%5D=active>; rel="next"'
            return Answer(200, [_e(1), _e(2)], {"link": link})
        return Answer(200, [_e(3)], {"LINK": f'<{base}?page=bookmark:abc%3D&per_page=2>; rel="current"'})

    scripted.script = script
    with client_for(scripted, fake_time, per_page=2) as client:
        ids = [e.id for e in client.course_enrollments(1, state="active")]
    assert ids == [1, 2, 3]
    assert (
        scripted.seen[1].path
        == "/api/v1/courses/1/enrollments?page=bookmark:abc%3D&per_page=2&state%5B%5D=active"
    )
    for seen in scripted.seen:
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "access_token" not in seen.path


def test_access_token_query_param_is_moved_to_the_header(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    scripted.script = sequence(Answer(200, {"id": 1, "workflow_state": "queued"}))
    with client_for(scripted, fake_time) as client:
        client.send(Request("GET", "/api/v1/progress/1", {"access_token": "other-token"}))
    assert scripted.seen[0].path == "/api/v1/progress/1"
    assert scripted.seen[0].headers["Authorization"] == "Bearer other-token"


def test_next_link_to_another_host_is_refused(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(
        Answer(200, [_e(1)], {"Link": '<https://evil.example.com/api/v1/x?page=2>; rel="next"'})
    )
    with (
        client_for(scripted, fake_time) as client,
        pytest.raises(CanvasError, match="refusing to send the token"),
    ):
        list(client.course_enrollments(1))
    assert len(scripted.seen) == 1


def test_send_puts_params_in_query_or_form(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(Answer(200, _e(9)))
    with client_for(scripted, fake_time) as client:
        client.send(
            Request("DELETE", "/api/v1/courses/sis_course_id:A%2FB/enrollments/9", {"task": "delete"})
        )
        client.send(
            Request(
                "POST",
                "/api/v1/courses/1/enrollments",
                {
                    "enrollment[user_id]": "sis_user_id:s 1",
                    "enrollment[start_at]": None,
                    "enrollment[notify]": False,
                },
            )
        )
    delete, post = scripted.seen
    assert (
        delete.method == "DELETE"
        and delete.path == "/api/v1/courses/sis_course_id:A%2FB/enrollments/9?task=delete"
    )
    assert post.method == "POST" and post.path == "/api/v1/courses/1/enrollments"
    assert (
        post.body
        == "enrollment%5Buser_id%5D=sis_user_id%3As+1&enrollment%5Bstart_at%5D=&enrollment%5Bnotify%5D=false"
    )
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_non_json_success_is_an_error(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(Answer(200, "<html>login</html>", {"Content-Type": "text/html"}))
    with client_for(scripted, fake_time) as client, pytest.raises(CanvasError, match="not JSON"):
        client.get_progress(1)


def test_token_never_appears_in_errors_or_logs(
    scripted: ScriptedServer, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    # Canvas echoing the token back must not leak it either.
    scripted.script = sequence(Answer(401, {"errors": [{"message": f"Invalid access token {TOKEN}."}]}))
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with client_for(scripted, fake_time) as client:
        for call in (
            lambda: client.get_progress(1),
            lambda: client.send(Request("GET", "/api/v1/progress/1", {"access_token": TOKEN})),
            lambda: list(client.course_enrollments(1, state=["active"])),
        ):
            with pytest.raises(CanvasError) as info:
                call()
            messages += [
                str(info.value),
                repr(info.value),
                info.value.path or "",
                info.value.canvas_message or "",
            ]
        messages += [repr(client), repr(client.transport), repr(client.stats)]
    messages += [record.getMessage() for record in caplog.records]
    assert len(caplog.records) >= 3, "the transport logs each request at debug level"
    assert not [m for m in messages if TOKEN in m]


def _e(n: int) -> dict[str, object]:
    return {
        "id": n,
        "course_id": 1,
        "user_id": 100 + n,
        "type": "StudentEnrollment",
        "role": "StudentEnrollment",
        "enrollment_state": "active",
    }


def test_wait_for_progress_gives_up_after_its_timeout(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    scripted.script = sequence(Answer(200, {"id": 5, "workflow_state": "running", "completion": 40}))
    with (
        client_for(scripted, fake_time) as client,
        pytest.raises(TransportError, match="still running after 30s"),
    ):
        client.wait_for_progress(5, interval=1.0, timeout=30)
    assert sum(fake_time.slept) >= 30 and max(fake_time.slept) <= 5.0
    assert len(scripted.seen) < 15  # polling backs off instead of hammering


def test_account_courses_follows_bookmarks_when_pages_are_not_numbered(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    def script(seen: Seen, n: int) -> Answer:
        if n == 1:
            return Answer(
                200,
                [{"id": 1}],
                {"Link": f'<{scripted.url}/api/v1/accounts/1/courses?page=bookmark:x>; rel="next"'},
            )
        return Answer(200, [{"id": 2, "sis_course_id": "B"}])

    scripted.script = script
    with client_for(scripted, fake_time) as client:
        assert [c.ref for c in client.account_courses(1, state=["available"])] == ["1", "sis_course_id:B"]
    assert scripted.seen[0].path == "/api/v1/accounts/1/courses?state%5B%5D=available&per_page=100"


def test_send_retries_enrollment_upserts_but_not_other_posts(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    scripted.script = sequence(Answer(503, ""), Answer(200, _e(1)))
    with client_for(scripted, fake_time) as client:
        client.send(
            Request("POST", "/api/v1/sections/sis_section_id:S%2F1/enrollments", {"enrollment[user_id]": "5"})
        )
    assert len(scripted.seen) == 2
    scripted.seen.clear()
    scripted.script = sequence(Answer(503, ""), Answer(200, {"success": True}))
    with client_for(scripted, fake_time) as client, pytest.raises(ServerError):
        client.send(Request("POST", "/api/v1/courses/1/enrollments/7/reject"))
    assert len(scripted.seen) == 1


def test_send_refuses_unresolved_or_foreign_requests(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    with client_for(scripted, fake_time) as client:
        with pytest.raises(ValueError, match="unresolved"):
            client.send(
                Request(
                    "POST",
                    "/api/v1/courses/1/enrollments",
                    {"enrollment[associated_user_id]": {"from_operation": "op1", "field": "user_id"}},
                )
            )
        with pytest.raises(ValueError, match="/api/v1/"):
            client.send(Request("GET", "https://elsewhere.example.com/api/v1/x"))
    assert scripted.seen == []


def test_retry_after_on_a_5xx_is_honoured(scripted: ScriptedServer, fake_time: FakeTime) -> None:
    # Canvas sends no Retry-After (facts §11), but a proxy or load balancer in front of it may.
    scripted.script = sequence(
        Answer(503, "maintenance", {"Retry-After": "7"}),
        Answer(200, {"id": 2, "workflow_state": "completed"}),
    )
    with client_for(scripted, fake_time) as client:
        assert client.get_progress(2).done
        stats = client.stats
    assert fake_time.slept == [7.0]  # the jittered backoff for a first retry is at most 0.5 s
    assert stats.retries == 1 and stats.waited == 7.0


def test_retry_after_on_a_throttled_answer_pauses_every_request(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    throttled = Answer(429, "429 Too Many Requests (Rate Limit Exceeded)\n", {"Retry-After": "4"})
    scripted.script = sequence(throttled, Answer(200, {"id": 1, "workflow_state": "queued"}))
    with client_for(scripted, fake_time) as client:
        client.get_progress(1)
        assert client.stats.throttled == 1 and client.stats.waited >= 4.0
    assert sum(fake_time.slept) >= 4.0


def test_retry_after_forms_and_cap() -> None:
    import datetime as dt

    from reconcile.canvas.transport import MAX_RETRY_AFTER, _retry_after

    now = dt.datetime(2026, 9, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert _retry_after("3") == 3.0
    assert _retry_after("Tue, 01 Sep 2026 12:00:30 GMT", now=now) == 30.0
    assert _retry_after("Tue, 01 Sep 2026 11:00:00 GMT", now=now) == 0.0  # in the past: no wait
    assert _retry_after("86400") == MAX_RETRY_AFTER  # one answer cannot stall a nightly run for a day
    assert _retry_after(None) is None and _retry_after("soon") is None and _retry_after(" ") is None


def test_each_retry_is_logged_with_its_reason_and_never_the_token(
    scripted: ScriptedServer, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.script = sequence(
        Answer(503, "unavailable"),
        THROTTLE_403,
        Answer(200, {"id": 2, "workflow_state": "completed"}),
    )
    caplog.set_level(logging.INFO, logger="reconcile")
    with client_for(scripted, fake_time) as client:
        client.send(Request("GET", "/api/v1/progress/2", {"access_token": TOKEN}))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2, lines
    assert "GET /api/v1/progress/2: Canvas answered 503; retry 1 of 3 in" in lines[0]
    assert "throttled by Canvas (403, X-Rate-Limit-Remaining 12.5); all requests pause" in lines[1]
    assert "throttle retry 1 of 12" in lines[1]
    assert not [line for line in lines if TOKEN in line]


def test_connection_failures_are_logged_as_retries(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.INFO, logger="reconcile")
    client = CanvasClient(
        f"http://127.0.0.1:{port}", TOKEN, retries=2, clock=fake_time.clock, sleep=fake_time.sleep
    )
    with client, pytest.raises(TransportError):
        client.get_progress(1)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [line.split(";")[0] for line in lines] == ["GET /api/v1/progress/1: connection refused"] * 2
    assert "retry 2 of 2" in lines[1]
