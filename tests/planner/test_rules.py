"""Every cell of the DESIGN §5 rules table, on plain frames (no server)."""

from __future__ import annotations

import pytest

from reconcile.plan import Action

from .factory import have, plan_of, want

SECTION = "sis_section_id:MATH101-01"

# (desired status, Canvas state) -> (action or None, enrollment_state sent by a POST or None)
TABLE = [
    ("active", None, "enroll", "active"),
    ("invited", None, "enroll", "invited"),
    ("inactive", None, "enroll", "inactive"),
    ("completed", None, None, None),
    ("deleted", None, None, None),
    ("deleted_last_completed", None, None, None),
    ("active", "invited", "restore", "active"),
    ("active", "creation_pending", "restore", "active"),
    ("active", "active", None, None),
    ("active", "inactive", "reactivate", None),
    ("active", "completed", "restore", "active"),
    ("active", "deleted", "restore", "active"),
    ("active", "rejected", "restore", "active"),
    ("invited", "invited", None, None),
    ("invited", "creation_pending", None, None),
    ("invited", "active", None, None),  # cannot demote: warning
    ("invited", "inactive", "restore", "invited"),
    ("invited", "completed", "restore", "invited"),
    ("invited", "deleted", "restore", "invited"),
    ("invited", "rejected", "restore", "invited"),
    ("inactive", "invited", "inactivate", None),
    ("inactive", "creation_pending", "inactivate", None),
    ("inactive", "active", "inactivate", None),
    ("inactive", "inactive", None, None),
    ("inactive", "completed", "inactivate", None),
    ("inactive", "deleted", "restore", "inactive"),
    ("inactive", "rejected", "restore", "inactive"),
    ("completed", "invited", "conclude", None),
    ("completed", "creation_pending", "conclude", None),
    ("completed", "active", "conclude", None),
    ("completed", "inactive", "conclude", None),
    ("completed", "completed", None, None),
    ("completed", "deleted", None, None),
    ("completed", "rejected", None, None),
    ("deleted", "invited", "delete", None),
    ("deleted", "creation_pending", "delete", None),
    ("deleted", "active", "delete", None),
    ("deleted", "inactive", "delete", None),
    ("deleted", "completed", "delete", None),
    ("deleted", "deleted", None, None),
    ("deleted", "rejected", None, None),
    ("deleted_last_completed", "active", "conclude", None),  # no other active enrollment
    ("deleted_last_completed", "invited", "conclude", None),
    ("deleted_last_completed", "completed", None, None),
    ("deleted_last_completed", "deleted", None, None),
]


@pytest.mark.parametrize(("status", "state", "action", "post"), TABLE)
def test_rules_table_cell(status: str, state: str | None, action: str | None, post: str | None) -> None:
    current = [have("s1", state=state)] if state else []
    plan = plan_of([want("s1", status=status)], current)
    if action is None:
        assert plan.operations == ()
        return
    (op,) = plan.operations
    assert op.action == Action(action)
    if post is not None:
        assert op.request.method == "POST"
        assert op.request.params["enrollment[enrollment_state]"] == post
    expected_reason = "missing_in_canvas" if state is None else "state_differs"
    assert op.reason == expected_reason


def test_cannot_demote_active_warns_and_plans_nothing() -> None:
    plan = plan_of([want("s1", status="invited")], [have("s1", state="active")])
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["cannot_demote"]
    assert plan.warnings[0].origin == ("roster.csv:2",)


def test_invited_over_row_active_only_by_future_dates_is_restored() -> None:
    # Canvas applies a POST's state to a row that is not active by date (facts §3.4, §7.3)
    row = have("s1", state="active", start_at="2026-10-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    plan = plan_of([want("s1", status="invited")], [row])
    (op,) = plan.operations
    assert op.action is Action.RESTORE
    assert op.request.params["enrollment[enrollment_state]"] == "invited"
    assert "not active by date" in op.detail or "pending" in op.detail


def test_active_in_future_warns() -> None:
    row = have("s1", state="active", start_at="2026-10-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    plan = plan_of([want("s1")], [row])
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["active_only_in_future"]
    assert "2026-10-01" in plan.warnings[0].message


def test_deleted_last_completed_deletes_when_another_active_enrollment_remains() -> None:
    plan = plan_of(
        [
            want("s1", status="deleted_last_completed", section=SECTION),
            want("s1", section="sis_section_id:MATH101-02"),
        ],
        [have("s1"), have("s1", section="sis_section_id:MATH101-02")],
    )
    (op,) = plan.operations
    assert op.action is Action.DELETE
    assert op.target.section == SECTION


def test_deleted_last_completed_counts_a_new_active_enrollment() -> None:
    plan = plan_of(
        [
            want("s1", status="deleted_last_completed", section=SECTION),
            want("s1", section="sis_section_id:MATH101-02"),
        ],
        [have("s1")],
    )
    actions = sorted(op.action.value for op in plan.operations)
    assert actions == ["delete", "enroll"]


def test_deleted_last_completed_completed_row_with_other_active_is_deleted() -> None:
    plan = plan_of(
        [
            want("s1", status="deleted_last_completed", section=SECTION),
            want("s1", section="sis_section_id:MATH101-02"),
        ],
        [have("s1", state="completed"), have("s1", section="sis_section_id:MATH101-02")],
    )
    (op,) = plan.operations
    assert op.action is Action.DELETE


@pytest.mark.parametrize(
    ("policy", "state", "action"),
    [
        ("deleted_last_completed", "active", "conclude"),
        ("deleted_last_completed", "invited", "conclude"),
        ("deleted_last_completed", "completed", None),
        ("conclude", "active", "conclude"),
        ("conclude", "inactive", "conclude"),
        ("conclude", "completed", None),
        ("inactivate", "active", "inactivate"),
        ("inactivate", "creation_pending", "inactivate"),
        ("inactivate", "inactive", None),
        ("delete", "active", "delete"),
        ("delete", "completed", "delete"),
        ("delete", "deleted", None),
        ("delete", "rejected", None),
        ("ignore", "active", None),
        ("conclude", "deleted", None),
        ("conclude", "rejected", None),
    ],
)
def test_drop_policy_for_rows_absent_from_roster(policy: str, state: str, action: str | None) -> None:
    from .factory import config

    plan = plan_of([want("s2")], [have("s1", state=state), have("s2")], cfg=config(drop=policy))
    drops = [op for op in plan.operations if op.target.user == "sis_user_id:s1"]
    if action is None:
        assert drops == []
    else:
        (op,) = drops
        assert op.action == Action(action)
        assert op.reason == "absent_from_roster"
        assert op.request.method == "DELETE"
        assert op.request.params == {"task": action}


def test_drop_policy_deleted_last_completed_deletes_duplicate_in_other_section() -> None:
    plan = plan_of(
        [want("s1", section=SECTION)], [have("s1"), have("s1", section="sis_section_id:MATH101-02")]
    )
    (op,) = plan.operations
    assert op.action is Action.DELETE
    assert op.target.section == "sis_section_id:MATH101-02"


def test_active_row_ended_by_unmanaged_dates_warns() -> None:
    row = have("s1", state="active", start_at="2026-01-01T00:00:00Z", end_at="2026-06-01T00:00:00Z")
    plan = plan_of([want("s1")], [row])
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["active_but_ended"]
    assert "2026-06-01" in plan.warnings[0].message


def test_role_id_matches_a_custom_role_renamed_in_canvas() -> None:
    from .factory import config

    row = have("s1", role="Grader")
    plan = plan_of(
        [want("s1", role="Marker", role_id=30, type="TaEnrollment")], [row], cfg=config(roles=("Grader",))
    )
    assert plan.operations == ()
