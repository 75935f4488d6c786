"""The provisioning report's client side over real HTTP against scripted servers: start, poll
with growing waits (on a fake clock), download (following a file-store redirect without the
token, refusing an oversized file), and the failures a report job can end in."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from canvas_helpers import TOKEN, Answer, FakeTime, ScriptedServer, Seen

from reconcile.canvas import CanvasClient, CanvasError
from reconcile.canvas.report import ReportError, run_provisioning

CSV = b"canvas_course_id,course_id\n1,A\n"
BASE = "/api/v1/accounts/1/reports/provisioning_csv"


@pytest.fixture
def store() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def _client(server: ScriptedServer, fake: FakeTime) -> CanvasClient:
    return CanvasClient(
        server.url, TOKEN, timeout=2.0, retries=2, clock=fake.clock, sleep=fake.sleep, rng=random.Random(1)
    )


def _job(status: str, url: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"id": 7, "status": status, "progress": 100 if url else 0}
    if url:
        body["attachment"] = {"id": 70, "url": url}
    return body


def test_a_report_is_started_polled_with_growing_waits_and_downloaded(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    file_url = f"{scripted.url}/files/70/download?download_frd=1&verifier=abc"

    def script(seen: Seen, n: int) -> Answer:
        if seen.method == "POST":
            return Answer(200, _job("created"))
        if seen.path.startswith("/files/70/download"):
            return Answer(200, CSV, {"Content-Type": "text/csv"})
        return Answer(200, _job("running") if n < 5 else _job("complete", file_url))

    scripted.script = script
    with _client(scripted, fake_time) as client:
        report = run_provisioning(client, "1", kinds=("enrollments",), first_poll=1.0, max_poll=2.0)
    assert report.id == 7 and report.files == {"enrollments": CSV} and report.polls == 4
    posted = scripted.seen[0]
    assert posted.path == BASE
    assert "parameters%5Benrollments%5D=true" in posted.body and "include_deleted%5D=true" in posted.body
    # waits grow by half up to the ceiling, through the client's sleep
    assert fake_time.slept[:4] == [1.0, 1.5, 2.0, 2.0]
    assert all(seen.headers.get("Authorization") == f"Bearer {TOKEN}" for seen in scripted.seen)


def test_a_redirect_to_the_file_store_is_followed_without_the_token(
    scripted: ScriptedServer, store: ScriptedServer, fake_time: FakeTime
) -> None:
    store.script = lambda seen, n: Answer(200, CSV, {"Content-Type": "text/csv"})
    signed = f"{store.url}/bucket/report.csv?signature=xyz"

    def script(seen: Seen, n: int) -> Answer:
        if seen.method == "POST":
            return Answer(200, _job("complete", f"{scripted.url}/files/70/download"))
        return Answer(302, "", {"Location": signed})

    scripted.script = script
    with _client(scripted, fake_time) as client:
        report = run_provisioning(client, "1", kinds=("enrollments",))
    assert report.files == {"enrollments": CSV}
    assert store.seen[0].path == "/bucket/report.csv?signature=xyz"
    assert "Authorization" not in store.seen[0].headers  # the token never leaves Canvas


def test_an_oversized_file_is_refused_before_it_is_read(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    def script(seen: Seen, n: int) -> Answer:
        if seen.method == "POST":
            return Answer(200, _job("complete", f"{scripted.url}/files/70/download"))
        return Answer(200, b"x" * 5000, {"Content-Type": "text/csv"})

    scripted.script = script
    with _client(scripted, fake_time) as client:
        with pytest.raises(CanvasError, match="above the limit of 1,000"):
            run_provisioning(client, "1", kinds=("enrollments",), max_bytes=1000)
        assert client.limiter.snapshot().in_flight == 0  # the refused download gave its slot back


@pytest.mark.parametrize("status", ["error", "aborted", "deleted"])
def test_a_failed_job_is_an_error_naming_it(
    scripted: ScriptedServer, fake_time: FakeTime, status: str
) -> None:
    failed = {**_job(status), "parameters": {"extra_text": "Failed, the report failed to generate a file."}}
    scripted.script = lambda seen, n: Answer(200, _job("created") if seen.method == "POST" else failed)
    with _client(scripted, fake_time) as client, pytest.raises(ReportError) as caught:
        run_provisioning(client, "1", kinds=("enrollments",))
    assert f"report 7 ended '{status}': Failed, the report failed" in str(caught.value)


def test_a_report_not_done_in_time_is_an_error_with_the_way_out(
    scripted: ScriptedServer, fake_time: FakeTime
) -> None:
    scripted.script = lambda seen, n: Answer(200, _job("created" if seen.method == "POST" else "running"))
    with _client(scripted, fake_time) as client, pytest.raises(ReportError) as caught:
        run_provisioning(client, "1", kinds=("enrollments",), timeout=0.0)
    assert "not done after 0 s" in str(caught.value) and "--inventory courses" in str(caught.value)
