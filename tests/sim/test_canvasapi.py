"""The simulator through a real third-party client, canvasapi: what works against Canvas
must work against the simulator unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from canvasapi import Canvas
from canvasapi.account import Account
from canvasapi.course import Course
from canvasapi.exceptions import BadRequest, Forbidden, ResourceDoesNotExist
from canvasapi.section import Section
from canvasapi.user import User

from reconcile.sim import Simulator
from reconcile.sim.generate import ADMIN_TOKEN, generate
from tests.conftest import University


def _canvas(university: University, token: str | None = None) -> Canvas:
    return Canvas(university.url, token or university.token)


def _course(canvas: Canvas, course_id: int | str) -> Course:
    # canvas.get_course() would GET /courses/:id, which the simulator does not serve.
    return Course(canvas._Canvas__requester, {"id": course_id})  # type: ignore[attr-defined]


def test_listing_follows_pagination_across_pages() -> None:
    # canvasapi always appends per_page=100 (the last value wins in Rails), so a course
    # larger than 100 is needed to make it follow Link headers.
    simulator = Simulator.from_seed(generate(courses=1, students_per_course=250, random_seed=3))
    every = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]
    with simulator.serve() as url:
        course = _course(Canvas(url, ADMIN_TOKEN), "sis_course_id:C00001-F26")
        enrollments = list(course.get_enrollments(state=every))
        pages = simulator.stats()["requests"]["GET /api/v1/courses/:id/enrollments"]
    rows = simulator.enrollments()
    assert len(rows) > 200
    assert sorted(e.id for e in enrollments) == sorted(r["id"] for r in rows)
    assert pages == -(-len(rows) // 100)
    assert all(hasattr(e, "user") for e in enrollments)


def test_section_listing(university: University) -> None:
    section = Section(_canvas(university)._Canvas__requester, {"id": 203, "course_id": 102})  # type: ignore[attr-defined]
    assert {e.course_section_id for e in section.get_enrollments()} == {203}


def test_enroll_user_then_each_deactivate_task_then_reactivate(university: University) -> None:
    course = _course(_canvas(university), 102)
    enrollment = course.enroll_user(
        25, "StudentEnrollment", enrollment={"enrollment_state": "active", "course_section_id": 203}
    )
    assert (enrollment.user_id, enrollment.course_section_id, enrollment.enrollment_state) == (
        25,
        203,
        "active",
    )
    inactive = enrollment.deactivate("inactivate")
    assert inactive.enrollment_state == "inactive"
    active = inactive.reactivate()
    assert active.enrollment_state == "active"
    deactivated = active.deactivate("deactivate")
    assert deactivated.enrollment_state == "inactive"
    concluded = deactivated.deactivate("conclude")
    assert concluded.enrollment_state == "completed"
    with pytest.raises(BadRequest):
        concluded.reactivate()
    deleted = concluded.deactivate("delete")
    assert deleted.enrollment_state == "deleted"
    with pytest.raises(ResourceDoesNotExist):
        deleted.deactivate("delete")
    revived = course.enroll_user(
        25, "StudentEnrollment", enrollment={"enrollment_state": "active", "course_section_id": 203}
    )
    assert revived.id == enrollment.id and revived.enrollment_state == "active"


def test_enroll_user_errors_surface_as_canvasapi_exceptions(university: University) -> None:
    course = _course(_canvas(university), 101)
    with pytest.raises(BadRequest):
        course.enroll_user(25, "NotAType")
    with pytest.raises(ResourceDoesNotExist):
        course.enroll_user(999, "StudentEnrollment")
    student = _course(_canvas(university, university.active_student_token), 101)
    with pytest.raises(Forbidden):
        student.enroll_user(25, "StudentEnrollment")


def test_accept_and_reject_as_the_invited_user(university: University) -> None:
    canvas = _canvas(university, university.student_token)
    (mine,) = (
        list(canvas.get_current_user().get_enrollments())
        if False
        else list(  # noqa: SIM108
            _user_enrollments(canvas)
        )
    )
    assert mine.enrollment_state == "invited"
    assert mine.reject() is True
    assert mine.accept() is True
    assert university.simulator.store.enrollments[mine.id].workflow_state == "active"


def _user_enrollments(canvas: Canvas) -> list[Any]:
    me = User(canvas._Canvas__requester, {"id": "self"})  # type: ignore[attr-defined]
    return list(me.get_enrollments())


def test_account_get_enrollment_returns_deleted_rows(university: University) -> None:
    canvas = _canvas(university)
    account = Account(canvas._Canvas__requester, {"id": 1})  # type: ignore[attr-defined]
    enrollment = account.get_enrollment(1016)
    assert (enrollment.id, enrollment.enrollment_state) == (1016, "deleted")
    sub_account = Account(canvas._Canvas__requester, {"id": 2})  # type: ignore[attr-defined]
    with pytest.raises(ResourceDoesNotExist):
        sub_account.get_enrollment(1004)


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
