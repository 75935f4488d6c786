"""Issue #14's pure rules: effective dates (facts §7.3, §7.4), concluded courses (§7.5),
deleted_last_completed (§12), rights per operation (§14.5). No server."""

from __future__ import annotations

import pandas as pd
import pytest

from reconcile.frames import conform
from reconcile.plan import Action, Operation, Request, Target
from reconcile.planner.dates import (
    COURSE_COLUMNS,
    SECTION_COLUMNS,
    concluded_courses,
    date_states,
    open_sections,
)
from reconcile.planner.keys import as_utc
from reconcile.planner.permissions import needed

from .factory import COURSE, NOW, current_frame, have, plan_of, want

NOW_US = int(as_utc(NOW).value // 1000)  # 2026-09-15


def _courses(**fields) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    row = {"course_ref": COURSE, "workflow_state": "available", "restrict_enrollments_to_course_dates": False}
    row.update(fields)
    return conform(pd.DataFrame([row]), COURSE_COLUMNS)


def _sections(**fields) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    row = {"section_id": 101, "restrict_enrollments_to_section_dates": True}
    row.update(fields)
    return conform(pd.DataFrame([row]), SECTION_COLUMNS)


ENDED_TERM = {"term_start_at": "2026-01-10T00:00:00Z", "term_end_at": "2026-05-15T00:00:00Z"}
FUTURE_TERM = {"term_start_at": "2027-01-10T00:00:00Z", "term_end_at": "2027-05-15T00:00:00Z"}


@pytest.mark.parametrize(
    ("courses", "sections", "row", "expect"),
    [
        (None, None, {}, "active"),  # no dates anywhere
        (_courses(**ENDED_TERM), None, {}, "ended"),  # rule 4: the term's dates
        (_courses(**FUTURE_TERM), None, {}, "pending"),
        (_courses(**FUTURE_TERM), None, {"type": "TeacherEnrollment", "role": "TeacherEnrollment"}, "pending"),
        # rule 1: the enrollment's own dates win, but only with both set
        (_courses(**ENDED_TERM), None, {"start_at": "2026-09-01T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}, "active"),
        (_courses(**ENDED_TERM), None, {"start_at": "2026-09-01T00:00:00Z"}, "ended"),
        # rule 3: course dates when it restricts enrollments to them
        (
            _courses(restrict_enrollments_to_course_dates=True, start_at="2026-09-01T00:00:00Z",
                     end_at="2026-12-01T00:00:00Z", **ENDED_TERM),
            None, {}, "active",
        ),
        # rule 2: section dates when the section restricts to them
        (_courses(**ENDED_TERM), _sections(start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z"), {}, "active"),
        (_courses(**ENDED_TERM), _sections(start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z"),
         {"type": "TeacherEnrollment", "role": "TeacherEnrollment"}, "active"),  # admin: section or term range
        (_courses(workflow_state="completed"), None, {}, "ended"),  # a completed course ends everything
    ],
)  # fmt: skip
def test_the_dates_that_govern_an_enrollment(courses, sections, row, expect) -> None:  # type: ignore[no-untyped-def]
    states = date_states(current_frame(have("s1", **row)), NOW_US, courses=courses, sections=sections)
    got = (
        "active"
        if states.active[0]
        else "pending"
        if states.pending[0]
        else "ended"
        if states.ended[0]
        else "?"
    )
    assert got == expect


def test_a_concluded_course_says_why() -> None:
    now = NOW_US
    assert concluded_courses(_courses(workflow_state="completed"), now) == {
        COURSE: "concluded (its state is completed)"
    }
    assert concluded_courses(_courses(**ENDED_TERM), now) == {
        COURSE: "concluded on 2026-05-15 (its term ended)"
    }
    restricted = _courses(
        restrict_enrollments_to_course_dates=True, end_at="2026-12-01T00:00:00Z", **ENDED_TERM
    )
    assert concluded_courses(restricted, now) == {}  # its own later end date governs
    assert concluded_courses(_courses(**FUTURE_TERM), now) == {}
    assert open_sections(_sections(end_at="2026-12-01T00:00:00Z"), now) == {101}
    assert open_sections(_sections(end_at=None), now) == set()  # no end date: ends with the course


def test_enrollments_into_a_concluded_course_are_not_planned_nor_the_move_they_belong_to() -> None:
    plan = plan_of(
        [want("s1", section="sis_section_id:MATH101-02"), want("new")],
        [have("s1")],
        course_dates=_courses(**ENDED_TERM),
    )
    assert plan.operations == ()  # the new enroll, and s1's move (enroll new section, drop old)
    (warning,) = [w for w in plan.warnings if w.code == "course_concluded"]
    assert "concluded on 2026-05-15 (its term ended)" in warning.message and "3 operations" in warning.message


def test_an_open_section_of_a_concluded_course_still_takes_a_known_user() -> None:
    open_section = _sections(start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    plan = plan_of(
        [want("s1", section="sis_section_id:MATH101-01")],
        [have("s1", state="deleted")],
        course_dates=_courses(**ENDED_TERM),
        section_dates=open_section,
    )
    assert [op.action for op in plan.operations] == [Action.RESTORE]


def test_deleted_last_completed_counts_every_other_enrollment_that_is_not_deleted() -> None:
    """facts §12: another completed (or inactive, invited...) enrollment keeps the user; a deleted
    one does not; two rows the roster marks deleted_last_completed see each other."""
    two = "sis_section_id:MATH101-02"
    keeps = plan_of(
        [want("s1", section="sis_section_id:MATH101-01", status="deleted_last_completed")],
        [have("s1"), have("s1", section=two, state="completed")],
        only_courses=[COURSE],
    )
    assert [op.action for op in keeps.operations if op.target.section != two] == [Action.DELETE]
    alone = plan_of(
        [want("s1", section="sis_section_id:MATH101-01", status="deleted_last_completed")],
        [have("s1"), have("s1", section=two, state="deleted")],
    )
    assert [op.action for op in alone.operations] == [Action.CONCLUDE]
    both = plan_of(
        [
            want("s1", section="sis_section_id:MATH101-01", status="deleted_last_completed"),
            want("s1", section=two, status="deleted_last_completed"),
        ],
        [have("s1"), have("s1", section=two)],
    )
    assert [op.action for op in both.operations] == [Action.DELETE, Action.DELETE]


def _op(action: Action, role: str, **params: str) -> Operation:
    return Operation(
        id="x", action=action, target=Target(COURSE, None, "sis_user_id:u", role),
        request=Request("POST", "/api/v1/courses/1/enrollments", dict(params)), reason="r",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "role", "rights"),
    [
        (Action.ENROLL, "StudentEnrollment", ("manage_students",)),
        (Action.ENROLL, "ObserverEnrollment", ("manage_students",)),
        (Action.ENROLL, "TaEnrollment", ("manage_admin_users",)),
        (Action.CONCLUDE, "StudentEnrollment", ("manage_students",)),
        (Action.CONCLUDE, "ObserverEnrollment", ("manage_admin_users",)),  # can_be_concluded_by
        (Action.DELETE, "ObserverEnrollment", ("manage_students",)),  # can_be_deleted_by
        (Action.REACTIVATE, "TeacherEnrollment", ("manage_admin_users",)),
        (Action.SET_LAST_ATTENDED, "StudentEnrollment", ("view_all_grades", "manage_grades")),
    ],
)
def test_the_right_each_operation_needs(action: Action, role: str, rights: tuple[str, ...]) -> None:
    assert needed(_op(action, role), base_type=role) == rights
