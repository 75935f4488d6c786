"""The exact request each operation makes, attribute updates, moves and observers."""

from __future__ import annotations

import pandas as pd

from reconcile.plan import Action

from .factory import COURSE_ID, ROLE_IDS, have, plan_of, user_number, want

S1 = "sis_section_id:MATH101-01"
S2 = "sis_section_id:MATH101-02"
START, END = "2026-09-01T00:00:00Z", "2026-12-20T00:00:00Z"


def test_enroll_posts_to_section_with_escaped_sis_refs() -> None:
    plan = plan_of([want("a/b", section="sis_section_id:M 1/2", course="sis_course_id:X/Y")], [])
    (op,) = plan.operations
    assert op.request.method == "POST"
    assert op.request.path == "/api/v1/sections/sis_section_id:M%201%2F2/enrollments"
    params = op.request.params
    assert params["enrollment[user_id]"] == "sis_user_id:a/b"
    assert params["enrollment[type]"] == "StudentEnrollment"
    assert params["enrollment[enrollment_state]"] == "active"
    assert params["enrollment[limit_privileges_to_course_section]"] == "false"
    assert params["enrollment[notify]"] == "false"


def test_enroll_without_section_posts_to_the_course() -> None:
    plan = plan_of([want("s1", course="sis_course_id:A/B")], [])
    assert plan.operations[0].request.path == "/api/v1/courses/sis_course_id:A%2FB/enrollments"


def test_enroll_into_custom_role_sends_role_id_seen_in_the_course() -> None:
    plan = plan_of([want("s1", role="Grader")], [have("s2", role="Grader")], cfg=None)
    enroll = next(op for op in plan.operations if op.action is Action.ENROLL)
    assert enroll.request.params["enrollment[role_id]"] == str(ROLE_IDS["Grader"])
    assert enroll.request.params["enrollment[type]"] == "TaEnrollment"


def test_enroll_into_unknown_custom_role_sends_role_name() -> None:
    plan = plan_of([want("s1", role="Mentor", type=None)], [])
    assert plan.operations[0].request.params["enrollment[role]"] == "Mentor"
    assert "enrollment[type]" not in plan.operations[0].request.params


def test_restore_posts_to_the_rows_own_section_with_numeric_ids() -> None:
    row = have("s1", state="completed", start_at=START, end_at=END, limit_privileges_to_course_section=True)
    plan = plan_of([want("s1")], [row])
    (op,) = plan.operations
    assert op.request.path == "/api/v1/sections/101/enrollments"
    params = op.request.params
    assert params["enrollment[user_id]"] == str(user_number("s1"))
    assert params["enrollment[role_id]"] == str(ROLE_IDS["StudentEnrollment"])
    # unmanaged attributes are copied, or the re-POST would clear them (facts §3.4)
    assert params["enrollment[start_at]"] == START
    assert params["enrollment[end_at]"] == END
    assert params["enrollment[limit_privileges_to_course_section]"] == "true"
    assert op.before is not None and op.before["state"] == "completed"
    assert op.after is not None and op.after["state"] == "active"


def test_managed_dates_differing_plan_an_update_with_roster_values() -> None:
    row = have("s1", start_at=START, end_at=END)
    wanted = want("s1", dates_managed=True, start_at="2026-09-02T00:00:00Z", end_at=END)
    (op,) = plan_of([wanted], [row]).operations
    assert op.action is Action.UPDATE
    assert op.reason == "attributes_differ"
    assert op.request.params["enrollment[start_at]"] == "2026-09-02T00:00:00Z"
    assert op.request.params["enrollment[enrollment_state]"] == "active"


def test_empty_managed_dates_clear_them_by_omission() -> None:
    (op,) = plan_of([want("s1", dates_managed=True)], [have("s1", start_at=START, end_at=END)]).operations
    assert op.action is Action.UPDATE
    assert "enrollment[start_at]" not in op.request.params
    assert "enrollment[end_at]" not in op.request.params


def test_unmanaged_dates_never_plan_an_update() -> None:
    wanted = want("s1", dates_managed=False, start_at="2027-01-01T00:00:00Z", end_at="2027-02-01T00:00:00Z")
    assert plan_of([wanted], [have("s1", start_at=START, end_at=END)]).operations == ()


def test_limit_privileges_managed_and_differing_updates() -> None:
    (op,) = plan_of([want("s1", limit_managed=True, limit_section_privileges=True)], [have("s1")]).operations
    assert op.action is Action.UPDATE
    assert op.request.params["enrollment[limit_privileges_to_course_section]"] == "true"


def test_reactivate_uses_put_on_numeric_ids() -> None:
    row = have("s1", state="inactive")
    (op,) = plan_of([want("s1")], [row]).operations
    assert op.request.method == "PUT"
    assert op.request.path == f"/api/v1/courses/{COURSE_ID}/enrollments/{row['id']}/reactivate"


def test_inactive_with_changed_attributes_is_revived_by_one_post() -> None:
    wanted = want("s1", limit_managed=True, limit_section_privileges=True)
    (op,) = plan_of([wanted], [have("s1", state="inactive")]).operations
    assert op.action is Action.RESTORE
    assert op.request.params["enrollment[enrollment_state]"] == "active"
    assert "reactivate" in op.detail


def test_inactivating_an_active_row_with_changed_attributes_updates_then_deletes() -> None:
    wanted = want("s1", status="inactive", limit_managed=True, limit_section_privileges=True)
    ops = plan_of([wanted], [have("s1")]).operations
    assert sorted(op.action.value for op in ops) == ["inactivate", "update"]
    update = next(op for op in ops if op.action is Action.UPDATE)
    assert update.request.params["enrollment[enrollment_state]"] == "inactive"


def test_delete_request_uses_course_and_enrollment_ids() -> None:
    row = have("s1")
    (op,) = plan_of([want("s1", status="deleted")], [row]).operations
    assert op.request.path == f"/api/v1/courses/{COURSE_ID}/enrollments/{row['id']}"
    assert op.request.params == {"task": "delete"}
    assert op.after == {"state": "deleted"}


def test_last_attended_differs_puts_numeric_course_and_user() -> None:
    wanted = want("s1", last_attended_managed=True, last_attended_at="2026-09-10T08:00:00Z")
    (op,) = plan_of([wanted], [have("s1")]).operations
    assert op.action is Action.SET_LAST_ATTENDED
    assert op.reason == "last_attended_differs"
    assert op.request.method == "PUT"
    assert op.request.path == f"/api/v1/courses/{COURSE_ID}/users/{user_number('s1')}/last_attended"
    assert op.request.params == {"date": "2026-09-10T08:00:00Z"}


def test_last_attended_equal_plans_nothing_and_new_rows_defer() -> None:
    same = want("s1", last_attended_managed=True, last_attended_at="2026-09-10T08:00:00Z")
    assert plan_of([same], [have("s1", last_attended_at="2026-09-10T08:00:00Z")]).operations == ()
    plan = plan_of([want("s9", last_attended_managed=True, last_attended_at="2026-09-10T08:00:00Z")], [])
    assert [op.action for op in plan.operations] == [Action.ENROLL]
    assert [w.code for w in plan.warnings] == ["last_attended_deferred"]


def test_section_move_is_enroll_then_dependent_drop() -> None:
    plan = plan_of([want("s1", section=S2)], [have("s1", section=S1)])
    enroll = next(op for op in plan.operations if op.action is Action.ENROLL)
    drop = next(op for op in plan.operations if op.action is not Action.ENROLL)
    assert enroll.move_id and enroll.move_id == drop.move_id
    assert enroll.reason == drop.reason == "moved_section"
    assert drop.depends_on == (enroll.id,)
    assert drop.action is Action.DELETE  # the user keeps an active enrollment in the course
    assert enroll.request.path == "/api/v1/sections/sis_section_id:MATH101-02/enrollments"


def test_role_change_is_a_move_with_role_changed_reason() -> None:
    plan = plan_of(
        [want("s1", role="TaEnrollment")], [have("s1")], cfg=_roles("StudentEnrollment", "TaEnrollment")
    )
    reasons = {op.action.value: op.reason for op in plan.operations}
    assert reasons == {"enroll": "role_changed", "conclude": "role_changed"}


def test_sectionless_desired_row_matches_any_section() -> None:
    assert plan_of([want("s1")], [have("s1", section=S2)]).operations == ()


def test_sectionless_desired_row_over_two_sections_keeps_both_and_restores_none() -> None:
    plan = plan_of([want("s1")], [have("s1", section=S1, state="deleted"), have("s1", section=S2)])
    assert plan.operations == ()


def test_sectionless_negative_status_applies_to_every_section() -> None:
    plan = plan_of([want("s1", status="deleted")], [have("s1", section=S1), have("s1", section=S2)])
    assert sorted(op.target.section for op in plan.operations) == [S1, S2]


def test_user_ref_spellings_match_their_canvas_columns() -> None:
    current = [
        have("s1", user_integration_id="INT-1"),
        have("s2", login_id="Mixed.Case@Example.edu"),
        have("s3", uid=777),
    ]
    desired = [
        want("sis_integration_id:INT-1"),
        want("sis_login_id:mixed.case@example.EDU"),
        want("777"),
    ]
    assert plan_of(desired, current).operations == ()


def test_observer_of_enrolled_student_gets_numeric_associated_user_id() -> None:
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1")
    plan = plan_of(
        [want("s1"), observer], [have("s1")], cfg=_roles("StudentEnrollment", "ObserverEnrollment")
    )
    (op,) = plan.operations
    assert op.request.params["enrollment[associated_user_id]"] == str(user_number("s1"))
    assert op.depends_on == ()


def test_observer_of_new_student_uses_placeholder_and_depends_on_its_enroll() -> None:
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1")
    plan = plan_of([want("s1"), observer], [])
    student = next(op for op in plan.operations if op.target.user == "sis_user_id:s1")
    watcher = next(op for op in plan.operations if op.target.user == "sis_user_id:p1")
    assert watcher.request.params["enrollment[associated_user_id]"] == {
        "from_operation": student.id,
        "field": "user_id",
    }
    assert watcher.depends_on == (student.id,)


def test_observer_of_restored_student_depends_on_the_restore() -> None:
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1")
    plan = plan_of([want("s1"), observer], [have("s1", state="deleted")])
    student = next(op for op in plan.operations if op.target.user == "sis_user_id:s1")
    watcher = next(op for op in plan.operations if op.target.user == "sis_user_id:p1")
    assert student.action is Action.RESTORE
    assert watcher.depends_on == (student.id,)
    assert watcher.request.params["enrollment[associated_user_id]"] == str(user_number("s1"))


def test_observer_of_unknown_student_is_skipped_with_warning() -> None:
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:nobody")
    plan = plan_of([observer], [])
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["observee_missing"]


def test_observer_matches_existing_row_on_associated_user() -> None:
    row = have("p1", role="ObserverEnrollment", associated_user_id=user_number("s1"))
    observer = want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s1")
    plan = plan_of([want("s1"), observer], [have("s1"), row])
    assert plan.operations == ()


def test_notify_follows_row_then_policy() -> None:
    plan = plan_of([want("s1", notify=True), want("s2")], [])
    notify = {op.target.user: op.request.params["enrollment[notify]"] for op in plan.operations}
    assert notify == {"sis_user_id:s1": "true", "sis_user_id:s2": "false"}


def test_dates_are_rendered_in_utc_z_form() -> None:
    wanted = want(
        "s1", dates_managed=True, start_at=pd.Timestamp("2026-09-01 10:00", tz="Europe/Berlin"), end_at=END
    )
    (op,) = plan_of([wanted], []).operations
    assert op.request.params["enrollment[start_at]"] == "2026-09-01T08:00:00Z"


def _roles(*roles: str):  # type: ignore[no-untyped-def]
    from .factory import config

    return config(roles=roles)


def test_move_is_grouped_even_when_roster_rows_carry_no_origin() -> None:
    plan = plan_of([want("s1", section=S2, origin_file=None, origin_row=None)], [have("s1", section=S1)])
    assert {op.reason for op in plan.operations} == {"moved_section"}
    assert len({op.move_id for op in plan.operations}) == 1
