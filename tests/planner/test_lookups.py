"""Roster refs no fetched enrollment shows (issue #11): what to ask Canvas, and what the planner
does with the answers. Pure: no server."""

from __future__ import annotations

from reconcile.plan import Action
from reconcile.planner.lookups import Lookups, to_check

from .factory import COURSE, current_frame, desired_frame, have, plan_of, want


def test_only_refs_no_enrollment_shows_are_asked_about() -> None:
    desired = desired_frame(
        want("s1", section="sis_section_id:MATH101-01"),
        want("s2", section="sis_section_id:MATH101-09"),
        want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s3"),
        want("sis_login_id:S1@Example.edu"),  # s1 by login: Canvas compares logins case-insensitively
    )
    current = current_frame(have("s1"))
    needs = to_check(desired, current, [COURSE])
    assert needs.users == ("sis_user_id:p1", "sis_user_id:s2", "sis_user_id:s3")
    assert needs.sections == {COURSE: ("sis_section_id:MATH101-09",)}
    assert not to_check(desired, current, ["sis_course_id:OTHER"])


def test_a_row_for_an_unknown_user_is_a_warning_with_its_row_and_no_operation() -> None:
    lookups = Lookups(unknown_users=frozenset({"sis_user_id:ghost"}))
    plan = plan_of([want("s1"), want("ghost", origin_row="7")], [have("s1")], lookups=lookups)
    assert plan.operations == ()
    (warning,) = [w for w in plan.warnings if w.code == "unknown_user"]
    assert warning.origin == ("roster.csv:7",) and "sis_user_id:ghost" in warning.message


def test_an_observer_of_an_unknown_student_is_skipped_with_a_warning() -> None:
    lookups = Lookups(unknown_users=frozenset({"sis_user_id:ghost"}))
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:ghost", origin_row="4")
    plan = plan_of([want("s1"), observer], [have("s1")], lookups=lookups)
    assert plan.operations == ()
    (warning,) = [w for w in plan.warnings if w.code == "unknown_user"]
    assert "whom observer sis_user_id:p1 is to observe" in warning.message


def test_an_unknown_section_leaves_the_users_enrollment_alone_instead_of_dropping_it() -> None:
    lookups = Lookups(unknown_sections=frozenset({(COURSE, "sis_section_id:MATH101-09")}))
    moved = want("s2", section="sis_section_id:MATH101-09", origin_row="3")
    plan = plan_of([want("s1"), moved], [have("s1"), have("s2")], lookups=lookups)
    assert plan.operations == ()  # without the lookup: enroll in -09 and drop from -01
    (warning,) = [w for w in plan.warnings if w.code == "unknown_section"]
    assert warning.origin == ("roster.csv:3",)
    without = plan_of([want("s1"), moved], [have("s1"), have("s2")])
    assert {op.action for op in without.operations} == {
        Action.ENROLL,
        Action.DELETE,
    }  # deleted: the new row keeps it


def test_undecided_users_are_one_warning_and_change_nothing() -> None:
    plan = plan_of([want("s1"), want("new")], [have("s1")], lookups=Lookups(users_undecided=True))
    assert [op.action for op in plan.operations] == [Action.ENROLL]
    assert [w.code for w in plan.warnings] == ["users_not_checked"]
