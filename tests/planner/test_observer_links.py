"""The planner's rules for what Canvas maintains itself (issue #13): observer rows kept from
observer links (facts §14.1) and rows of sections cross-listed into another course (facts
§14.2). Pure: frames in, plan out."""

from __future__ import annotations

from reconcile.config import Config, ManageSettings
from reconcile.plan import Action
from reconcile.planner.fingerprint import fingerprint
from reconcile.planner.lookups import Lookups

from .factory import COURSE, current_frame, have, plan_of, user_number, want

OBSERVED = ("StudentEnrollment", "ObserverEnrollment")
CFG = Config(manage=ManageSettings(roles=OBSERVED))
S1, P1 = user_number("s1"), user_number("p1")
LINK = frozenset({(P1, S1)})


def _observer(**fields):  # type: ignore[no-untyped-def]
    return have("p1", role="ObserverEnrollment", associated_user_id=S1, **fields)


def test_a_linked_observer_row_absent_from_the_roster_is_never_dropped_nor_counted() -> None:
    plan = plan_of([want("s1")], [have("s1"), _observer(linked=True)], cfg=CFG, observer_links=LINK)
    assert plan.operations == ()
    assert plan.summary["observers_kept_by_canvas"] == 1
    assert plan.unmanaged == {}  # not "outside manage scope": Canvas's own
    unlinked = plan_of([want("s1")], [have("s1"), _observer()], cfg=CFG)
    assert [op.action for op in unlinked.operations] == [Action.CONCLUDE]  # an ordinary observer row is


def test_a_linked_observer_row_is_never_restored_or_redated() -> None:
    row = _observer(
        linked=True, state="completed", start_at="2026-01-01T00:00:00Z", end_at="2026-02-01T00:00:00Z"
    )
    roster = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1", dates_managed=True)
    plan = plan_of([want("s1"), roster], [have("s1"), row], cfg=CFG, observer_links=LINK)
    assert plan.operations == ()


def test_a_roster_observer_row_a_link_will_provide_needs_nothing() -> None:
    roster = [want("s1"), want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1")]
    # the student is enrolled by this plan; Canvas creates the observer row from the link
    found = Lookups(user_ids={"sis_user_id:s1": S1, "sis_user_id:p1": P1})  # the Users API knows both
    plan = plan_of(roster, [], cfg=CFG, observer_links=LINK, lookups=found)
    assert [(op.action, op.target.role) for op in plan.operations] == [(Action.ENROLL, "StudentEnrollment")]
    without_link = plan_of(roster, [], cfg=CFG, lookups=found)
    assert sorted(op.target.role for op in without_link.operations) == sorted(OBSERVED)


def test_a_student_operation_names_the_linked_observers_canvas_mirrors_it_onto() -> None:
    plan = plan_of([want("s1", status="completed")], [have("s1"), _observer(linked=True)], cfg=CFG,
                   observer_links=LINK)  # fmt: skip
    (op,) = plan.operations
    assert op.action is Action.CONCLUDE and op.after is not None
    assert op.after["linked_observers"] == [P1]


def test_rows_of_a_cross_listed_section_are_acted_on_in_the_course_they_are_in_now() -> None:
    # accounted under the roster's course (course_ref), but in course 99 now (course_id)
    moved = have("s2", course_id=99, section="sis_section_id:MATH101-02")
    plan = plan_of(
        [want("s1"), want("s2", section="sis_section_id:MATH101-02", status="inactive")], [have("s1"), moved]
    )
    (op,) = plan.operations
    assert op.action is Action.INACTIVATE and op.request.path.startswith("/api/v1/courses/99/enrollments/")


def test_sectionless_new_enrollments_go_to_the_section_placement_names() -> None:
    plan = plan_of([want("s1"), want("new")], [have("s1")], placement={COURSE: "sis_section_id:MATH101-01"})
    (op,) = plan.operations
    assert op.request.path == "/api/v1/sections/sis_section_id:MATH101-01/enrollments"
    assert op.target.section == "sis_section_id:MATH101-01"
    plain = plan_of([want("s1"), want("new")], [have("s1")])
    assert plain.operations[0].request.path == f"/api/v1/courses/{COURSE}/enrollments"


def test_how_the_state_was_fetched_is_recorded_for_the_stale_check() -> None:
    fetched = {"sections": {COURSE: [102]}, "links": True}
    plan = plan_of([want("s1")], [have("s1")], fetched_with=fetched)
    assert plan.policy["scope"]["fetch"] == fetched
    assert "fetch" not in plan_of([want("s1")], [have("s1")]).policy["scope"]


def test_the_fingerprint_sees_a_link_made_and_a_section_moved() -> None:
    base = current_frame(have("s1"), _observer())
    linked = current_frame(have("s1"), _observer(linked=True))
    moved = current_frame(have("s1", course_id=99), _observer())
    first = fingerprint(base, courses=[COURSE])
    assert fingerprint(linked, courses=[COURSE]) != first
    assert fingerprint(moved, courses=[COURSE]) != first
