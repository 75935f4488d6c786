"""Scope rules (DESIGN §4), guards (§6) and warnings, on plain frames."""

from __future__ import annotations

from reconcile.plan import Action, GuardResult, Plan

from .factory import COURSE, config, have, plan_of, want

OTHER = "sis_course_id:ART200"


def guard(plan: Plan, name: str, course: str | None = None) -> GuardResult:
    return next(g for g in plan.guards if g.name == name and g.course == course)


def test_roles_default_to_those_in_the_roster() -> None:
    plan = plan_of([want("s1")], [have("s1"), have("t1", role="TeacherEnrollment")])
    assert plan.operations == ()
    assert plan.unmanaged == {COURSE: 1}
    assert plan.policy["scope"]["roles"] == ["StudentEnrollment"]


def test_manage_roles_adds_roles_absent_from_roster() -> None:
    plan = plan_of(
        [want("s1")],
        [have("s1"), have("ta1", role="TaEnrollment")],
        cfg=config(roles=("StudentEnrollment", "TaEnrollment")),
    )
    (op,) = plan.operations
    assert op.target.user == "sis_user_id:ta1" and op.action is Action.CONCLUDE


def test_desired_rows_outside_manage_roles_are_ignored_with_warning() -> None:
    plan = plan_of(
        [want("s1"), want("t1", role="TeacherEnrollment")],
        [have("s1")],
        cfg=config(roles=("StudentEnrollment",)),
    )
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["role_not_managed"]


def test_student_view_and_temporary_enrollments_are_never_touched() -> None:
    current = [
        have("sv", type="StudentViewEnrollment", role="StudentEnrollment"),
        have("tmp", temporary_enrollment_source_user_id=42),
    ]
    plan = plan_of([want("s1")], current)
    assert [op.target.user for op in plan.operations] == ["sis_user_id:s1"]
    assert plan.unmanaged == {COURSE: 2}


def test_temporary_enrollment_matching_a_desired_row_is_not_reused() -> None:
    plan = plan_of([want("s1")], [have("s1", temporary_enrollment_source_user_id=42, state="inactive")])
    assert [op.action for op in plan.operations] == [Action.ENROLL]


def test_ownership_sis_drops_only_sis_imported_rows() -> None:
    current = [have("s1"), have("manual", sis_import_id=None), have("imported")]
    plan = plan_of([want("s1")], current, cfg=config(ownership="sis"))
    assert [op.target.user for op in plan.operations] == ["sis_user_id:imported"]
    assert plan.unmanaged == {COURSE: 1}


def test_ownership_sis_leaves_unowned_matched_rows_unchanged_with_warning() -> None:
    plan = plan_of(
        [want("s1", status="deleted")], [have("s1", sis_import_id=None)], cfg=config(ownership="sis")
    )
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["not_managed"]


def test_manage_courses_brings_a_course_into_scope_and_trips_course_emptied() -> None:
    from reconcile.config import Config, ManageSettings

    cfg = Config(manage=ManageSettings(courses=(OTHER,)))
    plan = plan_of([want("s1")], [have("s1"), have("x1", course_ref=OTHER, course_id=12)], cfg=cfg)
    assert [op.target.course for op in plan.operations] == [OTHER]
    emptied = guard(plan, "course_emptied", OTHER)
    assert emptied.tripped
    assert emptied.figures == {
        "managed_enrollments": 1,
        "roster_rows": 0,
        "removals": 1,
        "absent": 1,
        "stated": 0,
        "stated_by_state": {},
    }


def test_only_courses_restricts_the_plan() -> None:
    plan = plan_of([want("s1"), want("a1", course=OTHER)], [], only_courses=[OTHER])
    assert [op.target.course for op in plan.operations] == [OTHER]
    assert list(plan.fingerprints) == [OTHER]


def test_empty_roster_trips() -> None:
    plan = plan_of([], [have("s1")])
    assert guard(plan, "empty_roster").tripped
    assert guard(plan, "empty_roster").figures == {"roster_rows": 0, "managed_enrollments": 0}
    assert plan.operations == ()  # no roles in scope: nothing is managed


def test_empty_roster_with_managed_roles_would_drop_everything_and_trips() -> None:
    from reconcile.config import Config, ManageSettings

    cfg = Config(manage=ManageSettings(roles=("StudentEnrollment",), courses=(COURSE,)))
    plan = plan_of([], [have("s1"), have("s2")], cfg=cfg)
    assert guard(plan, "empty_roster").tripped
    assert guard(plan, "empty_roster").figures["managed_enrollments"] == 2
    assert len(plan.operations) == 2


def test_max_drop_percent_trips_for_large_course() -> None:
    current = [have(f"s{i}") for i in range(12)]
    desired = [want(f"s{i}") for i in range(8)]
    plan = plan_of(desired, current)
    result = guard(plan, "max_drop_percent", COURSE)
    assert result.tripped
    assert result.figures["removals"] == 4 and result.figures["managed_enrollments"] == 12
    assert result.figures["absent"] == 4 and result.figures["stated"] == 0
    assert result.figures["percent"] == 33.3


def test_max_drop_percent_not_enforced_below_min_course_size() -> None:
    plan = plan_of([want("s0")], [have(f"s{i}") for i in range(5)])
    result = guard(plan, "max_drop_percent", COURSE)
    assert not result.tripped and result.figures["percent"] == 80.0


def test_max_drop_percent_within_limit() -> None:
    plan = plan_of([want(f"s{i}") for i in range(19)], [have(f"s{i}") for i in range(20)])
    assert not guard(plan, "max_drop_percent", COURSE).tripped


def test_max_drops_for_whole_plan() -> None:
    plan = plan_of([want("s0")], [have(f"s{i}") for i in range(4)], cfg=config(max_drops=2))
    result = guard(plan, "max_drops")
    assert result.tripped
    assert result.figures == {"removals": 3, "absent": 3, "stated": 0, "stated_by_state": {}, "max_drops": 2}


def test_protected_roles_trip_when_teacher_dropped() -> None:
    cfg = config(roles=("StudentEnrollment", "TeacherEnrollment"))
    plan = plan_of([want("s1")], [have("s1"), have("t1", role="TeacherEnrollment")], cfg=cfg)
    result = guard(plan, "protected_roles")
    assert result.tripped
    assert result.figures["by_role"] == {"TeacherEnrollment": 1}
    assert "sis_user_id:t1" in result.message
    assert result.override == "--allow-drops"


def test_moves_are_not_removals_but_explicit_statuses_are() -> None:
    plan = plan_of(
        [want("s1", section="sis_section_id:MATH101-02"), want("s2", status="deleted")],
        [have("s1"), have("s2")],
    )
    assert plan.summary["drops_absent_from_roster"] == 0
    assert plan.summary["to_drop"] == 2
    assert plan.summary["removals"] == 1
    assert guard(plan, "max_drops").figures["removals"] == 1
    assert guard(plan, "max_drops").figures["stated_by_state"] == {"deleted": 1}


def test_a_roster_marking_every_row_deleted_trips_the_guards() -> None:
    """The accident SIS exports really make: a term flipped to deleted at rollover (DESIGN §6)."""
    cfg = config(roles=("StudentEnrollment", "TeacherEnrollment"))
    current = [have(f"s{i}") for i in range(39)] + [have("t1", role="TeacherEnrollment")]
    desired = [want(f"s{i}", status="deleted") for i in range(36)] + [want(f"s{i}") for i in range(36, 39)]
    desired.append(want("t1", role="TeacherEnrollment", status="deleted"))
    plan = plan_of(desired, current, cfg=cfg)
    percent = guard(plan, "max_drop_percent", COURSE)
    assert percent.tripped
    assert percent.figures["removals"] == 37 and percent.figures["stated"] == 37
    assert percent.message.startswith(f"{COURSE}: 37 of 40 managed enrollments would be removed")
    assert "37 because the roster marks them deleted" in percent.message
    protected = guard(plan, "protected_roles")
    assert protected.tripped and protected.figures["by_role"] == {"TeacherEnrollment": 1}
    assert "sis_user_id:t1" in protected.message


def test_a_roster_marking_every_row_completed_empties_the_course() -> None:
    current = [have(f"s{i}") for i in range(4)]
    plan = plan_of([want(f"s{i}", status="completed") for i in range(4)], current)
    emptied = guard(plan, "course_emptied", COURSE)
    assert emptied.tripped and emptied.figures["stated_by_state"] == {"completed": 4}
    assert emptied.figures["roster_rows"] == 4
    assert "4 because the roster marks them completed" in emptied.message


def test_removal_split_names_both_reasons_largest_first() -> None:
    current = [have(f"s{i}") for i in range(12)]
    desired = [want(f"s{i}") for i in range(6)] + [want(f"s{i}", status="inactive") for i in range(6, 10)]
    plan = plan_of(desired, current)
    result = guard(plan, "max_drop_percent", COURSE)
    assert result.figures["absent"] == 2 and result.figures["stated_by_state"] == {"inactive": 4}
    assert (
        "6 of 12 managed enrollments would be removed (50.0%, limit 25.0%); 4 because the roster marks them inactive, 2 absent from the roster"
        in result.message
    )


def test_deleting_what_is_already_concluded_is_not_a_removal() -> None:
    plan = plan_of(
        [want(f"s{i}", status="deleted") for i in range(3)],
        [have(f"s{i}", state="completed") for i in range(3)],
    )
    assert [op.action for op in plan.operations] == [Action.DELETE] * 3
    assert plan.summary["removals"] == 0
    assert not any(g.tripped for g in plan.guards)


def test_a_course_kept_alive_by_new_enrollments_is_not_emptied() -> None:
    plan = plan_of([want("s1", status="deleted"), want("s2")], [have("s1")])
    assert not any(g.name == "course_emptied" for g in plan.guards)


def test_warnings_are_capped_per_code() -> None:
    desired = [want(f"s{i}", status="invited") for i in range(60)]
    plan = plan_of(desired, [have(f"s{i}") for i in range(60)])
    codes = [w.code for w in plan.warnings]
    assert codes.count("cannot_demote") == 51  # 50 individual + one "... and 10 more"
    assert plan.warnings[-1].message.startswith("... and 10 more")
