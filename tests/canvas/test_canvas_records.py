"""Canvas JSON -> frozen records: unknown fields ignored, times in UTC, string ids accepted."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from reconcile.canvas.records import Course, Enrollment, Progress, TemporaryEnrollmentStatus, parse_time

ENROLLMENT = {
    "id": 9,
    "course_id": 3,
    "course_section_id": 4,
    "user_id": 5,
    "root_account_id": 1,
    "type": "StudentEnrollment",
    "role": "StudentEnrollment",
    "role_id": 3,
    "enrollment_state": "active",
    "associated_user_id": None,
    "limit_privileges_to_course_section": False,
    "start_at": None,
    "end_at": "2026-12-18T23:59:59Z",
    "created_at": "2026-08-01T10:00:00+02:00",
    "updated_at": "2026-08-01T08:00:00.123Z",
    "sis_course_id": "MATH101",
    "sis_user_id": "s001",
    "grades": {"html_url": "x"},
    "brand_new_canvas_field": {"nested": True},
    "user": {
        "id": 5,
        "name": "Ada",
        "sortable_name": "Ada",
        "sis_user_id": "s001",
        "login_id": "ada",
        "x": 1,
    },
}


def test_enrollment_parses_known_fields_and_ignores_others() -> None:
    e = Enrollment.from_json(ENROLLMENT)
    assert (e.id, e.course_id, e.course_section_id, e.user_id, e.state) == (9, 3, 4, 5, "active")
    assert e.end_at == dt.datetime(2026, 12, 18, 23, 59, 59, tzinfo=dt.timezone.utc)
    assert e.created_at == dt.datetime(2026, 8, 1, 8, 0, tzinfo=dt.timezone.utc)
    assert e.updated_at is not None and e.updated_at.microsecond == 123000
    assert e.user is not None and e.user.login_id == "ada" and e.user.sis_user_id == "s001"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.state = "deleted"  # type: ignore[misc]


def test_string_ids_are_accepted() -> None:
    data = {**ENROLLMENT, "id": "9", "course_id": "3", "user_id": "5", "role_id": "3"}
    assert Enrollment.from_json(data).id == 9


def test_parse_time_forms() -> None:
    assert parse_time(None) is None and parse_time("") is None
    assert parse_time("2026-01-02T03:04:05Z") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert parse_time("2026-01-02T03:04:05-05:00") == dt.datetime(2026, 1, 2, 8, 4, 5, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError):
        parse_time("next tuesday")


def test_course_ref_prefers_sis_id() -> None:
    assert Course.from_json({"id": 3, "sis_course_id": "M/1"}).ref == "sis_course_id:M/1"
    assert Course.from_json({"id": 3, "sis_course_id": None}).ref == "3"


def test_progress_done_states() -> None:
    queued = Progress.from_json(
        {"id": 1, "workflow_state": "queued", "completion": None, "tag": "bulk_enrollment"}
    )
    done = Progress.from_json(
        {"id": 1, "workflow_state": "completed", "completion": 100, "results": {"errors": {}}}
    )
    assert not queued.done and done.done and done.completion == 100.0 and done.results == {"errors": {}}


def test_temporary_status() -> None:
    status = TemporaryEnrollmentStatus.from_json(
        {"is_provider": True, "is_recipient": False, "can_provide": True}
    )
    assert status == TemporaryEnrollmentStatus(True, False, True)
