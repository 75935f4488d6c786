"""The provisioning report (facts §14.6): the Reports API's life cycle, the file download, and
the enrollments CSV as canvas-lms ``sis_exporter.rb`` writes it (see
:mod:`reconcile.sim.provisioning` for what current Canvas does differently from older
versions: one row per enrollment, the section's current course, deleted sections and
courses reported as ``deleted``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from reconcile.sim import Simulator, api_reports
from reconcile.sim.provisioning import HEADERS
from tests.conftest import UNIVERSITY_SEED, University
from tests.sim.conftest import Api

START = "/api/v1/accounts/1/reports/provisioning_csv"
ENROLLMENTS = {"parameters[enrollments]": "true"}
HEADER_LINE = (
    "canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,section_id,status,"
    "canvas_associated_user_id,associated_user_id,created_by_sis,base_role_type,limit_section_privileges,"
    "canvas_enrollment_id"
)
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


class FakeClock:
    """The reports' timeline clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(api_reports, "clock", fake)
    return fake


def _report(api: Api, report: dict[str, Any], account: str = "1") -> dict[str, Any]:
    response = api.get(f"/api/v1/accounts/{account}/reports/provisioning_csv/{report['id']}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _start(api: Api, data: dict[str, Any] | None = None, account: str = "1", **kwargs: Any) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/accounts/{account}/reports/provisioning_csv",
        data=ENROLLMENTS if data is None else data,
        **kwargs,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _rows(api: Api, report: dict[str, Any], account: str = "1") -> list[dict[str, str]]:
    """The CSV of a report that has completed, as dicts (asserting its exact header)."""
    done = _report(api, report, account)
    assert done["status"] == "complete", done
    response = api.get(done["attachment"]["url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv"
    text = response.content.decode("utf-8")
    assert text.split("\n", 1)[0] == HEADER_LINE
    return list(csv.DictReader(io.StringIO(text)))


def _report_rows(api: Api, data: dict[str, Any] | None = None, account: str = "1") -> list[dict[str, str]]:
    return _rows(api, _start(api, data, account), account)


# -- the life cycle, on the example university --------------------------------------------


def test_a_report_is_created_then_runs_then_completes(api: Api, clock: FakeClock) -> None:
    api.university.simulator.set_faults(report_delay_s=8)
    created = _start(api)
    assert created == {
        "id": created["id"],
        "progress": 0,
        "parameters": {"enrollments": "true"},
        "current_line": None,
        "status": "created",
        "report": "provisioning_csv",
        "created_at": created["created_at"],
        "started_at": None,
        "ended_at": None,
        "file_url": None,
    }
    assert created["created_at"].startswith("2026-10-15T") and created["created_at"].endswith("Z")
    assert "attachment" not in created  # Canvas adds the key only once there is a file
    assert _report(api, created)["status"] == "created"

    clock.now = 1002.5  # past a quarter of the delay: the job has started
    running = _report(api, created)
    assert (running["status"], running["progress"], running["file_url"]) == ("running", 0, None)
    assert running["ended_at"] is None
    started = dt.datetime.fromisoformat(running["started_at"].replace("Z", "+00:00"))
    assert started - dt.datetime.fromisoformat(created["created_at"].replace("Z", "+00:00")) == dt.timedelta(
        seconds=2
    )
    assert running["parameters"] == {
        "enrollments": "true",
        "extra_text": "Term: All Terms; Reports: enrollments ",
    }

    clock.now = 1007.9
    assert _report(api, created)["status"] == "running"

    clock.now = 1008
    done = _report(api, created)
    assert (done["status"], done["progress"]) == ("complete", 100)
    assert done["ended_at"] is not None
    attachment = done["attachment"]
    assert done["file_url"] == f"{api.university.url}/accounts/1/files/{attachment['id']}/download"
    assert attachment["url"] == (
        f"{api.university.url}/files/{attachment['id']}/download?download_frd=1&verifier={attachment['uuid']}"
    )
    assert attachment["content-type"] == "text/csv"
    assert attachment["filename"].startswith(f"provisioning_csv_15_Oct_2026_{created['id']}")
    assert attachment["filename"].endswith(".csv") and attachment["display_name"] == attachment["filename"]
    body = api.get(attachment["url"]).content
    assert attachment["size"] == len(body)
    assert done["current_line"] == body.count(b"\n")  # header and rows
    assert done == _report(api, created)  # made once, then stable


def test_the_delay_is_honoured_in_real_time(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0.6)
    started = time.monotonic()
    report = _start(api)
    seen = []
    while True:
        status = _report(api, report)["status"]
        elapsed = time.monotonic() - started
        seen.append(status)
        if status == "complete":
            break
        assert elapsed < 10, seen
        time.sleep(0.05)
    assert elapsed >= 0.6
    assert "running" in seen
    order = [("created", "running", "complete").index(s) for s in seen]
    assert order == sorted(order) and seen.count("complete") == 1


def test_the_report_completes_by_itself_once_due(api: Api) -> None:
    """The file is made when the job ends, not when someone first polls afterwards."""
    api.university.simulator.set_faults(report_delay_s=0.2)
    report = _start(api)
    time.sleep(0.8)
    api.delete("/api/v1/courses/101/enrollments/1005", params={"task": "delete"})  # after the snapshot
    rows = _rows(api, report)
    assert "1005" in {r["canvas_enrollment_id"] for r in rows}


def test_with_no_delay_the_first_poll_finds_it_complete(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _start(api)
    assert report["status"] == "created"  # the POST answers before the job runs
    assert _report(api, report)["status"] == "complete"


def test_the_snapshot_is_taken_when_the_job_finishes(api: Api, clock: FakeClock) -> None:
    api.university.simulator.set_faults(report_delay_s=4)
    report = _start(api)
    clock.now = 1001.5
    assert _report(api, report)["status"] == "running"
    assert api.enroll(102, user_id=25, course_section_id=203, enrollment_state="active").status_code == 200
    clock.now = 1004
    rows = _rows(api, report)
    api.enroll(102, user_id=26, course_section_id=203, enrollment_state="active")
    sections = {(r["canvas_user_id"], r["canvas_section_id"]) for r in rows}
    assert ("25", "203") in sections  # written while the report ran
    assert ("26", "203") not in sections  # written after it completed
    assert rows == _rows(api, report)


def test_csv_rows_of_the_university(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    rows = _report_rows(api)
    by_id = {r["canvas_enrollment_id"]: r for r in rows}
    assert [int(r["canvas_enrollment_id"]) for r in rows] == sorted(int(i) for i in by_id)
    assert by_id["1001"] == {
        "canvas_course_id": "101",
        "course_id": "MATH101-F26",
        "canvas_user_id": "2",
        "user_id": "T1001",
        "role": "teacher",
        "role_id": "4",
        "canvas_section_id": "201",
        "section_id": "MATH101-F26-01",
        "status": "active",
        "canvas_associated_user_id": "",
        "associated_user_id": "",
        "created_by_sis": "true",
        "base_role_type": "TeacherEnrollment",
        "limit_section_privileges": "false",
        "canvas_enrollment_id": "1001",
    }
    assert (by_id["1003"]["role"], by_id["1003"]["role_id"], by_id["1003"]["created_by_sis"]) == (
        "Grader",
        "10",
        "false",
    )
    assert by_id["1102"]["limit_section_privileges"] == "true"
    observer = by_id["1018"]
    assert (observer["role"], observer["canvas_associated_user_id"], observer["associated_user_id"]) == (
        "observer",
        "10",
        "S0001",
    )
    # Canvas's status names: creation_pending is "invited"; no completed or deleted rows
    statuses = {by_id[i]["status"] for i in ("1013", "1014", "1017", "1302")}
    assert statuses == {"inactive", "invited", "rejected"} and by_id["1302"]["status"] == "invited"
    assert not {"1015", "1016", "1114", "1401"} & by_id.keys()  # completed and deleted
    assert "1019" not in by_id  # the Student View student


def test_include_deleted_adds_completed_rows_and_sis_made_deleted_ones(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    api.delete("/api/v1/courses/101/enrollments/1003", params={"task": "delete"})  # made by hand
    rows = _report_rows(api, {**ENROLLMENTS, "parameters[include_deleted]": "true"})
    by_id = {r["canvas_enrollment_id"]: r for r in rows}
    assert by_id["1015"]["status"] == "concluded"
    assert by_id["1016"]["status"] == "deleted"  # deleted, but an SIS import made it
    assert "1003" not in by_id  # deleted and never an SIS row
    assert "1019" not in by_id


def test_a_json_body_works_like_a_form(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _start(
        api, data={}, json={"parameters": {"enrollments": True, "enrollment_term_id": "sis_term_id:T2026SP"}}
    )
    assert report["parameters"] == {"enrollments": True, "enrollment_term_id": "sis_term_id:T2026SP"}
    rows = _rows(api, report)
    assert {r["canvas_course_id"] for r in rows} == {"105"}  # the Spring term's course
    assert _report(api, report)["parameters"]["extra_text"] == "Term: Spring 2026; Reports: enrollments "


def test_term_filter_by_canvas_id(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    rows = _report_rows(api, {**ENROLLMENTS, "parameters[enrollment_term_id]": "2"})
    assert {r["canvas_course_id"] for r in rows} == {"101", "102", "103", "104"}


def test_a_sub_account_reports_its_own_courses(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    rows = _report_rows(api, account="sis_account_id:NU-ARTS")
    assert {r["canvas_course_id"] for r in rows} == {"103", "104"}


def test_a_job_with_nothing_to_do_or_an_unknown_term_fails(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    for data in (
        {},
        {"parameters[enrollments]": "false"},
        {**ENROLLMENTS, "parameters[enrollment_term_id]": "999"},
    ):
        failed = _report(api, _start(api, data))
        assert (failed["status"], failed["progress"], failed["file_url"]) == ("error", 100, None), data
        assert failed["parameters"]["extra_text"] == api_reports.FAILED_TEXT
        assert "attachment" not in failed


def test_parts_the_simulator_does_not_model_are_refused(api: Api) -> None:
    response = api.post(START, data={**ENROLLMENTS, "parameters[users]": "true"})
    assert response.status_code == 400
    assert "enrollments, xlist and user_observers parts only, not users" in response.json()["message"]


# -- rights, lookups, downloads ---------------------------------------------------------------


def test_only_account_admins_may_start_read_or_download(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _report(api, _start(api))
    teacher = api.as_(api.university.teacher_token)
    attempts = [
        teacher.post(START, data=ENROLLMENTS),
        teacher.get(f"{START}/{report['id']}"),
        teacher.get(report["attachment"]["url"]),
        teacher.get(report["file_url"]),
    ]
    for response in attempts:
        assert (response.status_code, response.json()) == (403, UNAUTHORIZED)
    assert api.as_(None).get(report["attachment"]["url"]).status_code == 401  # a token is needed


def test_unknown_accounts_reports_and_files_are_404(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _report(api, _start(api))
    file_id = report["attachment"]["id"]
    for response in (
        api.post("/api/v1/accounts/99/reports/provisioning_csv", data=ENROLLMENTS),
        api.get(f"{START}/{report['id'] + 1}"),
        api.get(f"/api/v1/accounts/2/reports/provisioning_csv/{report['id']}"),  # another account's
        api.get(f"/files/{file_id + 1}/download"),
        api.get(f"/accounts/2/files/{file_id}/download"),
        api.get(f"/files/{file_id}/download", params={"download_frd": "1", "verifier": "wrong"}),
        api.post("/api/v1/accounts/1/reports/grade_export_csv", data={}),
    ):
        assert (response.status_code, response.json()) == (404, NOT_FOUND), response.url


def test_both_download_urls_serve_the_same_bytes(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _report(api, _start(api))
    by_url = api.get(report["attachment"]["url"])
    by_file_url = api.get(report["file_url"])
    without_verifier = api.get(f"/files/{report['attachment']['id']}/download")
    assert by_url.content == by_file_url.content == without_verifier.content
    assert (
        by_url.headers["Content-Disposition"] == f'attachment; filename="{report["attachment"]["filename"]}"'
    )


def test_the_new_routes_are_counted_by_route(api: Api) -> None:
    api.university.simulator.set_faults(report_delay_s=0)
    report = _report(api, _start(api))
    _report(api, report)
    api.get(report["attachment"]["url"])
    api.get(report["file_url"])
    stats = requests.get(f"{api.university.url}/__sim/stats", timeout=5).json()
    assert stats["requests"] == {
        "GET /accounts/:id/files/:id/download": 1,
        "GET /api/v1/accounts/:id/reports/provisioning_csv/:id": 2,
        "GET /files/:id/download": 1,
        "POST /api/v1/accounts/:id/reports/provisioning_csv": 1,
    }
    # starting a report changes no enrollment: a read, so "no writes" still means nothing changed
    assert (stats["reads"], stats["writes"]) == (5, 0)


def test_the_throttle_charges_a_download_by_its_rows(api: Api) -> None:
    sim = api.university.simulator
    sim.set_faults(report_delay_s=0, item_cost=20)
    report = _report(api, _start(api))
    poll = api.get(f"{START}/{report['id']}")
    assert poll.headers["X-Request-Cost"] == "1.0"  # a poll is cheap
    download = api.get(report["attachment"]["url"])
    rows = download.content.count(b"\n") - 1
    assert rows > 40
    assert download.headers["X-Request-Cost"] == f"{1.0 + 20.0 * rows}"
    throttled = api.get(f"{START}/{report['id']}")  # the bucket is past its high-water mark now
    assert throttled.status_code == 429
    assert throttled.text == "429 Too Many Requests (Rate Limit Exceeded)\n"


def test_the_delay_knob_through_the_control_endpoint(api: Api) -> None:
    url = f"{api.university.url}/__sim/faults"
    assert requests.get(url, timeout=5).json()["report_delay_s"] == 2.0
    assert requests.put(url, json={"report_delay_s": 0.25}, timeout=5).json()["report_delay_s"] == 0.25
    assert api.university.simulator.report_delay_s == 0.25
    for bad in (-1, "soon", True):
        assert requests.put(url, json={"report_delay_s": bad}, timeout=5).status_code == 400
    assert requests.get(url, timeout=5).json()["report_delay_s"] == 0.25
    api.university.simulator.reset()
    assert api.university.simulator.report_delay_s == 2.0


def test_serve_command_takes_a_report_delay() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconcile",
            "sim",
            "serve",
            "--seed",
            str(UNIVERSITY_SEED),
            "--report-delay",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("listening on ")
        assert requests.get(f"{url}/__sim/faults", timeout=5).json()["report_delay_s"] == 0.0
        admin = {"Authorization": "Bearer demo-admin-token"}
        report = requests.post(f"{url}{START}", data=ENROLLMENTS, headers=admin, timeout=5).json()
        polled = requests.get(f"{url}{START}/{report['id']}", headers=admin, timeout=5).json()
        assert polled["status"] == "complete"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the CSV rules, on a seed made for them -----------------------------------------------------


def _seed() -> dict[str, Any]:
    return {
        "now": "2026-10-15T12:00:00Z",
        "accounts": [{"id": 1, "sis_account_id": "ROOT"}, {"id": 2, "sis_account_id": "SUB", "parent_account_id": 1}],
        "terms": [{"id": 1, "name": "Fall", "sis_term_id": "T1"}, {"id": 2, "name": "Spring", "sis_term_id": "T2"}],
        "courses": [
            {"id": 1, "sis_course_id": "C1", "account_id": 2, "enrollment_term_id": 1},
            {"id": 2, "sis_course_id": "C2", "enrollment_term_id": 2},
            {"id": 3, "sis_course_id": "C3", "enrollment_term_id": 1, "workflow_state": "deleted"},
            {"id": 4, "enrollment_term_id": 1},
        ],
        "sections": [
            {"id": 11, "course_id": 1, "sis_section_id": "S11"},
            {"id": 13, "course_id": 1, "sis_section_id": "S13", "workflow_state": "deleted"},
            {"id": 21, "course_id": 2, "sis_section_id": "S21"},
            # cross-listed from course 1 into course 2
            {"id": 12, "course_id": 2, "sis_section_id": "S12", "nonxlist_course_id": 1},
            {"id": 31, "course_id": 3, "sis_section_id": "S31"},
            {"id": 41, "course_id": 4},
        ],
        "users": [
            {"id": 1, "name": "Admin", "sis_user_id": "ADMIN", "login_id": "admin@x"},
            {"id": 2, "name": "Teacher", "sis_user_id": "T2", "login_id": "t@x"},
            # a merged user: two SIS logins; "amy@x" sorts before "zed@x"
            {
                "id": 5,
                "name": "Amy Zed",
                "sis_user_id": "S-OLD",
                "login_id": "zed@x",
                "pseudonyms": [{"sis_user_id": "S-NEW", "login_id": "amy@x"}],
            },
            {"id": 6, "name": "No Login"},
            {
                "id": 7,
                "name": "Gone Login",
                "pseudonyms": [{"sis_user_id": "S-GONE", "login_id": "gone@x", "workflow_state": "deleted"}],
            },
            {"id": 8, "name": "No SIS id", "login_id": "nosis@x"},
            {"id": 9, "name": "Parent", "sis_user_id": "P9", "login_id": "p@x"},
            {"id": 10, "name": "Student", "sis_user_id": "S10", "login_id": "s@x"},
            {"id": 11, "name": "Test Student", "login_id": "test@x"},
        ],
        "roles": [{"id": 20, "label": "Auditor", "base_role_type": "StudentEnrollment"}],
        "enrollments": [
            {"id": 1, "user_id": 2, "course_id": 1, "course_section_id": 11, "type": "TeacherEnrollment",
             "limit_privileges_to_course_section": True, "sis_import_id": 1},
            {"id": 2, "user_id": 5, "course_id": 1, "course_section_id": 11},
            {"id": 3, "user_id": 5, "course_id": 2, "course_section_id": 12, "sis_import_id": 1, "sis_user_id": "S-OLD"},
            {"id": 4, "user_id": 6, "course_id": 1, "course_section_id": 11},
            {"id": 5, "user_id": 7, "course_id": 1, "course_section_id": 11, "sis_import_id": 1},
            {"id": 6, "user_id": 8, "course_id": 1, "course_section_id": 11},
            {"id": 7, "user_id": 9, "course_id": 1, "course_section_id": 11, "type": "ObserverEnrollment",
             "associated_user_id": 10},
            {"id": 8, "user_id": 10, "course_id": 1, "course_section_id": 11, "sis_import_id": 1},
            {"id": 9, "user_id": 11, "course_id": 1, "course_section_id": 11, "type": "StudentViewEnrollment"},
            {"id": 10, "user_id": 10, "course_id": 1, "course_section_id": 13},
            {"id": 11, "user_id": 10, "course_id": 3, "course_section_id": 31},
            {"id": 12, "user_id": 10, "course_id": 2, "course_section_id": 21, "workflow_state": "completed",
             "sis_import_id": 1},
            {"id": 13, "user_id": 10, "course_id": 4, "course_section_id": 41, "workflow_state": "deleted",
             "sis_import_id": 1},
            {"id": 14, "user_id": 8, "course_id": 4, "course_section_id": 41, "workflow_state": "deleted"},
            {"id": 15, "user_id": 10, "course_id": 4, "course_section_id": 41, "role_id": 20,
             "workflow_state": "invited"},
            {"id": 16, "user_id": 8, "course_id": 2, "course_section_id": 21, "workflow_state": "creation_pending"},
            {"id": 17, "user_id": 5, "course_id": 4, "course_section_id": 41, "workflow_state": "rejected"},
            {"id": 18, "user_id": 5, "course_id": 2, "course_section_id": 21, "workflow_state": "inactive"},
        ],
        "tokens": [{"token": "t", "user_id": 1, "admin": True}],
    }  # fmt: skip


@pytest.fixture
def rules() -> Iterator[Api]:
    simulator = Simulator.from_seed(_seed(), report_delay_s=0)
    with simulator.serve() as url:
        client = Api(University(url=url, token="t", simulator=simulator), "t")
        yield client
        client.session.close()


def _by_id(rows: list[dict[str, str]]) -> dict[int, dict[str, str]]:
    return {int(r["canvas_enrollment_id"]): r for r in rows}


def test_one_row_per_enrollment_with_the_chosen_login(rules: Api) -> None:
    rows = _report_rows(rules)
    # one row per enrollment of the user with two logins, not one per login
    assert sorted(int(r["canvas_enrollment_id"]) for r in rows if r["canvas_user_id"] == "5") == [
        2,
        3,
        17,
        18,
    ]
    by_id = _by_id(rows)
    assert by_id[2]["user_id"] == "S-NEW"  # made by hand: the first login in Canvas's order
    assert by_id[3]["user_id"] == "S-OLD"  # an SIS import's row shows the login it enrolled


def test_users_without_a_usable_login_are_left_out(rules: Api) -> None:
    by_id = _by_id(_report_rows(rules))
    assert 4 not in by_id  # no login at all
    assert 5 not in by_id  # only a deleted login
    assert by_id[6]["user_id"] == "" and by_id[6]["canvas_user_id"] == "8"  # a login without SIS id
    with_deleted = _by_id(_report_rows(rules, {**ENROLLMENTS, "parameters[include_deleted]": "1"}))
    assert with_deleted[5]["user_id"] == "S-GONE"


def test_a_cross_listed_section_is_reported_in_its_current_course(rules: Api) -> None:
    row = _by_id(_report_rows(rules))[3]
    assert (row["canvas_course_id"], row["course_id"], row["canvas_section_id"], row["section_id"]) == (
        "2",
        "C2",
        "12",
        "S12",
    )


def test_statuses_and_deleted_sections_and_courses(rules: Api) -> None:
    by_id = _by_id(_report_rows(rules))
    assert {i: by_id[i]["status"] for i in (1, 8, 10, 11, 15, 16, 17, 18)} == {
        1: "active",
        8: "active",
        10: "deleted",  # its section is deleted
        11: "deleted",  # its course is deleted
        15: "invited",
        16: "invited",  # creation_pending
        17: "rejected",
        18: "inactive",
    }
    assert not {9, 12, 13, 14} & by_id.keys()  # Student View, completed, deleted


def test_include_deleted_rules(rules: Api) -> None:
    by_id = _by_id(_report_rows(rules, {**ENROLLMENTS, "parameters[include_deleted]": "true"}))
    assert by_id[12]["status"] == "concluded"
    assert by_id[13]["status"] == "deleted"  # deleted, made by an SIS import
    assert 14 not in by_id  # deleted, made by hand
    assert 9 not in by_id


def test_columns_of_roles_observers_and_sis_ids(rules: Api) -> None:
    by_id = _by_id(_report_rows(rules))
    assert (by_id[1]["role"], by_id[1]["limit_section_privileges"], by_id[1]["created_by_sis"]) == (
        "teacher",
        "true",
        "true",
    )
    assert (by_id[15]["role"], by_id[15]["role_id"], by_id[15]["base_role_type"]) == (
        "Auditor",
        "20",
        "StudentEnrollment",
    )
    assert (by_id[15]["course_id"], by_id[15]["section_id"]) == ("", "")  # no SIS ids
    assert (by_id[7]["role"], by_id[7]["canvas_associated_user_id"], by_id[7]["associated_user_id"]) == (
        "observer",
        "10",
        "S10",
    )


def test_term_filter_follows_the_current_course(rules: Api) -> None:
    fall = _by_id(_report_rows(rules, {**ENROLLMENTS, "parameters[enrollment_term_id]": "sis_term_id:T1"}))
    assert set(fall) == {1, 2, 6, 7, 8, 10, 11, 15, 17}
    assert 3 not in fall  # cross-listed from a Fall course into a Spring one


def test_filters_by_sub_account_type_state_and_sis(rules: Api) -> None:
    assert set(_by_id(_report_rows(rules, account="2"))) == {1, 2, 6, 7, 8, 10}
    observers = _report_rows(rules, {**ENROLLMENTS, "parameters[enrollment_filter]": "ObserverEnrollment"})
    assert [r["canvas_enrollment_id"] for r in observers] == ["7"]
    invited = _report_rows(
        rules, {**ENROLLMENTS, "parameters[enrollment_states]": "invited,creation_pending"}
    )
    assert {r["canvas_enrollment_id"] for r in invited} == {"15", "16"}
    sis_made = _report_rows(rules, {**ENROLLMENTS, "parameters[created_by_sis]": "true"})
    assert {r["canvas_enrollment_id"] for r in sis_made} == {"1", "3", "8"}


def test_header_is_exactly_canvas_s() -> None:
    assert ",".join(HEADERS) == HEADER_LINE


XLIST_LINE = (
    "canvas_xlist_course_id,xlist_course_id,canvas_section_id,section_id,status,"
    "canvas_nonxlist_course_id,nonxlist_course_id"
)


def _zip_members(api: Api, report: dict[str, Any]) -> dict[str, str]:
    import zipfile

    done = _report(api, report)
    assert done["status"] == "complete", done
    response = api.get(done["attachment"]["url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/zip")
    assert done["attachment"]["filename"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_enrollments_and_xlist_together_come_as_a_zip_of_one_csv_each(rules: Api) -> None:
    members = _zip_members(rules, _start(rules, {**ENROLLMENTS, "parameters[xlist]": "true"}))
    assert sorted(members) == ["enrollments.csv", "xlist.csv"]
    assert members["enrollments.csv"].splitlines()[0] == HEADER_LINE
    assert members["enrollments.csv"] == rules.get(_rows_url(rules)).text  # the same CSV as alone
    lines = members["xlist.csv"].splitlines()
    assert lines[0] == XLIST_LINE
    # section 12 lives in course 2 now and came from course 1
    assert lines[1:] == ["2,C2,12,S12,active,1,C1"]


def test_the_xlist_part_alone_is_a_csv(rules: Api) -> None:
    done = _report(rules, _start(rules, {"parameters[xlist]": "true"}))
    response = rules.get(done["attachment"]["url"])
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.text.splitlines() == [XLIST_LINE, "2,C2,12,S12,active,1,C1"]


def test_a_cross_listing_into_a_completed_course_needs_include_deleted(rules: Api) -> None:
    store = rules.university.simulator.store
    with store.lock:
        store.courses[2].workflow_state = "completed"
    plain = _report(rules, _start(rules, {"parameters[xlist]": "true"}))
    assert rules.get(plain["attachment"]["url"]).text.splitlines() == [XLIST_LINE]
    wide = _report(rules, _start(rules, {"parameters[xlist]": "true", "parameters[include_deleted]": "true"}))
    assert rules.get(wide["attachment"]["url"]).text.splitlines()[1:] == ["2,C2,12,S12,active,1,C1"]


def _rows_url(api: Api) -> str:
    done = _report(api, _start(api))
    return str(done["attachment"]["url"])


def test_user_observers_lists_every_active_link_by_the_students_and_observers_logins() -> None:
    from reconcile.sim.generate import ADMIN_TOKEN, generate

    seed = generate(courses=3, students_per_course=4, random_seed=2, linked_parents=0.5)
    assert seed["observer_links"]
    simulator = Simulator.from_seed(seed, report_delay_s=0)
    with simulator.serve() as url:
        api = Api(University(url=url, token=ADMIN_TOKEN, simulator=simulator), ADMIN_TOKEN)
        done = _report(api, _start(api, {"parameters[user_observers]": "true"}))
        lines = api.get(done["attachment"]["url"]).text.splitlines()
        store = simulator.store
        with store.lock:
            link = next(iter(store.links.values()))
            link.workflow_state = "deleted"  # a link removed: gone unless include_deleted
        later = _report(api, _start(api, {"parameters[user_observers]": "true"}))
        after = api.get(later["attachment"]["url"]).text.splitlines()
        api.session.close()
    assert lines[0] == "canvas_observer_id,observer_id,canvas_student_id,student_id,status,created_by_sis"
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    pairs = {(int(r["canvas_observer_id"]), int(r["canvas_student_id"])) for r in rows}
    assert pairs == {(link["observer_id"], link["student_id"]) for link in seed["observer_links"]}
    assert {r["status"] for r in rows} == {"active"} and {r["created_by_sis"] for r in rows} == {"false"}
    assert len(after) == len(lines) - 1
