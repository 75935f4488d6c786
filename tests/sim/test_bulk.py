"""POST /accounts/:id/bulk_enrollment and its Progress (facts §4)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.sim.conftest import Api


def _wait(api: Api, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    states = []
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.get(url).json()
        states.append(body["workflow_state"])
        if body["workflow_state"] in ("completed", "failed"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"progress never finished: {states}")


def test_bulk_enrollment_runs_in_the_background(api: Api) -> None:
    response = api.post(
        "/api/v1/accounts/1/bulk_enrollment",
        data={
            "user_ids[]": ["24", "25", "sis_user_id:S0017"],
            "course_ids[]": ["103", "sis_course_id:MATH101-F26"],
        },
    )
    assert response.status_code == 200
    progress = response.json()
    assert progress["workflow_state"] == "queued"
    assert progress["tag"] == "bulk_enrollment" and progress["context_type"] == "Account"
    assert "results" not in progress
    assert progress["url"] == f"{api.university.url}/api/v1/progress/{progress['id']}"
    done = _wait(api, progress["url"])
    assert done["completion"] == 100.0
    assert done["results"] == {"errors": {}}
    rows = api.university.simulator.enrollments()
    new = {
        (r["user_id"], r["course_id"]): r
        for r in rows
        if r["user_id"] in (24, 25, 26) and r["course_id"] in (101, 103)
    }
    assert set(new) == {(u, c) for u in (24, 25, 26) for c in (101, 103)}
    assert {r["workflow_state"] for r in new.values()} == {"invited"}  # default state, published courses


def test_unknown_users_are_skipped(api: Api) -> None:
    response = api.post(
        "/api/v1/accounts/1/bulk_enrollment", data={"user_ids[]": ["999", "24"], "course_ids[]": ["103"]}
    )
    done = _wait(api, response.json()["url"])
    assert done["workflow_state"] == "completed"
    assert (
        sum(1 for r in api.university.simulator.enrollments() if r["course_id"] == 103 and r["user_id"] == 24)
        == 1
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"enrollment_role_id": "1"}, "Invalid role"),
        ({"enrollment_role_id": "11"}, "Cannot create an enrollment with this role because it is inactive."),
        (
            {"enrollment_role_id": "10", "enrollment_type": "StudentEnrollment"},
            "The specified type must match the base type for the role",
        ),
        ({"enrollment_type": "StudentViewEnrollment"}, "Invalid enrollment type."),
        (
            {"user_ids[]": [str(i) for i in range(1, 42)], "course_ids[]": [str(c) for c in range(101, 114)]},
            "Too many users to enroll at once.",
        ),
    ],
)
def test_validation_errors_are_a_string(api: Api, data: dict[str, object], message: str) -> None:
    payload: dict[str, object] = {"user_ids[]": ["24"], "course_ids[]": ["103"], **data}
    response = api.post("/api/v1/accounts/1/bulk_enrollment", data=payload)
    assert response.status_code == 400
    assert response.json() == {"errors": message}


def test_limit_is_500_pairs(api: Api) -> None:
    ok = api.post(
        "/api/v1/accounts/1/bulk_enrollment",
        data={
            "user_ids[]": [str(i) for i in range(1, 101)],
            "course_ids[]": ["101", "102", "103", "104", "105"],
        },
    )
    assert ok.status_code == 200
    _wait(api, ok.json()["url"])


def test_unknown_course_is_404_and_students_are_refused(api: Api) -> None:
    assert (
        api.post(
            "/api/v1/accounts/1/bulk_enrollment", data={"user_ids[]": ["24"], "course_ids[]": ["999"]}
        ).status_code
        == 404
    )
    student = api.as_(api.university.active_student_token)
    response = student.post(
        "/api/v1/accounts/1/bulk_enrollment", data={"user_ids[]": ["24"], "course_ids[]": ["101"]}
    )
    assert response.status_code == 403


def test_progress_of_someone_else_is_refused(api: Api) -> None:
    progress = api.post(
        "/api/v1/accounts/1/bulk_enrollment", data={"user_ids[]": ["24"], "course_ids[]": ["103"]}
    ).json()
    assert api.as_(api.university.student_token).get(progress["url"]).status_code == 403
    assert api.get("/api/v1/progress/99999").status_code == 404
    _wait(api, progress["url"])
