"""Date-based enrollment state (facts §7.3-§7.5): what Canvas means by "active" on a given day.

Canvas serializes the raw workflow_state, but its decisions (does a re-POST change the
state? may the user accept?) use the *effective* state computed from dates. These
functions compute it from the course, section and term records; pure, no locking.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from reconcile.sim.model import ADMIN_TYPES, Course, Enrollment, Section, Term

Range = tuple[dt.datetime | None, dt.datetime | None]


class DateSource(Protocol):
    """What the calculation needs to look up: the store implements it."""

    def course(self, course_id: int) -> Course: ...
    def section(self, section_id: int) -> Section: ...
    def term(self, term_id: int | None) -> Term | None: ...


def enrollment_dates(source: DateSource, enrollment: Enrollment) -> list[Range]:
    """The date ranges that govern ``enrollment``, first rule that applies (facts §7.4)."""
    if enrollment.start_at is not None and enrollment.end_at is not None:
        return [(enrollment.start_at, enrollment.end_at)]
    course = source.course(enrollment.course_id)
    section = source.section(enrollment.course_section_id)
    term = source.term(course.enrollment_term_id)
    term_range: list[Range] = [(term.start_at, term.end_at)] if term else []
    admin = enrollment.type in ADMIN_TYPES
    if section.restrict_enrollments_to_section_dates:
        return [(section.start_at, section.end_at)] + (term_range if admin else [])
    if course.restrict_enrollments_to_course_dates:
        return [(course.start_at, course.end_at)] + (term_range if admin else [])
    return term_range


def effective_state(source: DateSource, enrollment: Enrollment, now: dt.datetime) -> str:
    """EnrollmentState.state: the workflow state adjusted for dates (facts §7.3).

    One of active, invited, pending_active, pending_invited, completed, inactive,
    creation_pending, rejected, deleted.
    """
    state = enrollment.workflow_state
    if state not in ("active", "invited"):
        return state
    course = source.course(enrollment.course_id)
    if course.workflow_state == "completed":
        return "completed"
    ranges = [r for r in enrollment_dates(source, enrollment) if r[0] is not None or r[1] is not None]
    if not ranges:
        return state
    if any((start is None or start <= now) and (end is None or now <= end) for start, end in ranges):
        return state
    if all(end is not None and now > end for _, end in ranges):
        return "completed"
    if enrollment.type in ADMIN_TYPES:
        return "inactive"
    return "pending_active" if state == "active" else "pending_invited"


def is_active_by_date(source: DateSource, enrollment: Enrollment, now: dt.datetime) -> bool:
    """``Enrollment#active?``: effective state active (facts §3.4 step 1)."""
    return effective_state(source, enrollment, now) == "active"


def is_invited_by_date(source: DateSource, enrollment: Enrollment, now: dt.datetime) -> bool:
    """``Enrollment#invited?``: invited, including pending_invited."""
    return effective_state(source, enrollment, now) in ("invited", "pending_invited")


def is_inactive_by_date(source: DateSource, enrollment: Enrollment, now: dt.datetime) -> bool:
    """``Enrollment#inactive?``: raw inactive, or an admin type before its start date."""
    return effective_state(source, enrollment, now) == "inactive"


def course_concluded(source: DateSource, course: Course, now: dt.datetime) -> bool:
    """``Course#concluded?`` as the API calls it, with no enrollment type (facts §7.5)."""
    if course.workflow_state == "completed":
        return True
    if course.restrict_enrollments_to_course_dates and course.end_at is not None:
        return course.end_at < now
    term = source.term(course.enrollment_term_id)
    return term is not None and term.end_at is not None and term.end_at < now


def section_concluded(source: DateSource, section: Section, now: dt.datetime) -> bool:
    """``CourseSection#concluded?``: a section with restricted dates and an end date has
    ended by that date; any other section is concluded exactly when its course is."""
    if section.restrict_enrollments_to_section_dates and section.end_at is not None:
        return section.end_at < now
    return course_concluded(source, source.course(section.course_id), now)
