"""Pure parts: phases and dependencies, placeholder filling, the resumed-run stale check."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from apply_fakes import drop, enroll, last_attended, make_plan

from reconcile.apply import journal as jr
from reconcile.apply import stale
from reconcile.apply.schedule import MissingValue, schedule, substitute
from reconcile.frames import CURRENT_COLUMNS, conform
from reconcile.plan import Request


def test_phases_and_implicit_dependencies() -> None:
    student = enroll("C", "s")
    observer = enroll("C", "p", params={"x": {"from_operation": student.id, "field": "user_id"}})
    move_in = enroll("C", "m", move_id="mv")
    move_out = drop("C", "m", 5, move_id="mv")
    last = last_attended("C", 9)
    sched = schedule([move_out, last, observer, student, move_in])
    assert [[op.id for op in phase] for phase in sched.phases] == [
        [student.id, move_in.id],
        [observer.id],
        [last.id],
        [move_out.id],
    ]
    assert sched.depends[observer.id] == {student.id}
    assert sched.depends[move_out.id] == {move_in.id}


def test_a_dependant_is_never_placed_before_its_dependency() -> None:
    later = drop("C", "a", 1)
    early = enroll("C", "b", depends_on=(later.id,))
    sched = schedule([early, later])
    assert [len(p) for p in sched.phases] == [0, 0, 0, 2]
    assert schedule([enroll("C", "z", depends_on=("ghost",))]).unknown


def test_substitute_fills_placeholders_and_refuses_unknowns() -> None:
    request = Request("POST", "/x", {"a": {"from_operation": "op1", "field": "user_id"}, "b": 1})
    assert substitute(request, {"op1": {"user_id": 42}}).params == {"a": 42, "b": 1}
    with pytest.raises(MissingValue):
        substitute(request, {})
    with pytest.raises(MissingValue):
        substitute(request, {"op1": {"id": 1}})


def _frame(rows: list[dict]) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), CURRENT_COLUMNS)


def _row(eid: int, user: str, state: str = "active", **extra) -> dict:
    return {
        "id": eid,
        "course_ref": "C",
        "user_id": eid + 100,
        "sis_user_id": user,
        "role": "StudentEnrollment",
        "state": state,
        **extra,
    }


def _records(
    plan, statuses: dict[str, str], ids: dict[str, int] | None = None
) -> dict[str, jr.OperationRecord]:
    out = {}
    for op in plan.operations:
        out[op.id] = jr.OperationRecord(
            plan_id=plan.plan_id,
            op_id=op.id,
            seq=0,
            action=op.action.value,
            course="C",
            section=None,
            user=op.target.user,
            role=op.target.role,
            status=statuses.get(op.id, "pending"),
            run_id="r",
            attempts=1,
            enrollment_id=(ids or {}).get(op.id),
            enrollment_state=None,
            response=None,
            error=None,
            note=None,
            started_at=None,
            ended_at=None,
        )
    return out


def test_resumed_run_ignores_our_own_writes_but_not_someone_elses() -> None:
    add = enroll("C", "sis_user_id:new")
    remove = drop("C", "sis_user_id:a", 1)
    untouched = drop("C", "sis_user_id:b", 2)
    plan = make_plan(add, remove, untouched)
    before = _frame([_row(1, "a"), _row(2, "b"), _row(3, "c")])
    baseline = stale.row_digests(before, ["C"])
    # our drop of row 1 ran, our enroll ran but its answer was lost (started)
    after = _frame([_row(1, "a", "deleted"), _row(2, "b"), _row(3, "c"), _row(4, "new")])
    records = _records(plan, {add.id: "started", remove.id: "done"})
    assert stale.changed_since_baseline(plan, after, baseline, records) == []
    # someone else changed row 3 (or added a row) meanwhile
    edited = _frame([_row(1, "a", "deleted"), _row(2, "b"), _row(3, "c", "completed"), _row(4, "new")])
    assert stale.changed_since_baseline(plan, edited, baseline, records) == ["C"]
    extra = _frame([_row(1, "a", "deleted"), _row(2, "b"), _row(3, "c"), _row(4, "new"), _row(5, "stranger")])
    assert stale.changed_since_baseline(plan, extra, baseline, records) == ["C"]
    # a row our pending operation targets is not ours yet
    moved = _frame([_row(1, "a", "deleted"), _row(2, "b", "inactive"), _row(3, "c"), _row(4, "new")])
    assert stale.changed_since_baseline(plan, moved, baseline, records) == ["C"]


def test_fresh_run_compares_the_plan_fingerprints() -> None:
    plan = make_plan(enroll("C", "x"), fingerprints={"C": "abc"})
    assert stale.changed_since_plan(plan, {"C": "abc"}, ["C"]) == []
    assert stale.changed_since_plan(plan, {"C": "abd"}, ["C"]) == ["C"]


def test_observer_rows_canvas_mirrors_from_our_student_writes_do_not_make_a_resume_stale() -> None:
    """Canvas mirrors a student's enrollment changes onto observers linked to them (facts §14.1):
    the observer rows that change or appear are our writes' doing, not someone else's."""
    remove = drop("C", "sis_user_id:a", 1)  # student a has user id 101 (see _row)
    plan = make_plan(remove)
    plan = dataclasses.replace(
        plan, operations=(dataclasses.replace(remove, before={"id": 1, "state": "active", "user_id": 101}),)
    )
    watcher = {"type": "ObserverEnrollment", "role": "ObserverEnrollment", "associated_user_id": 101}
    before = _frame([_row(1, "a"), _row(2, "b"), _row(7, "parent", **watcher)])
    baseline = stale.row_digests(before, ["C"])
    records = _records(plan, {plan.operations[0].id: "done"})
    mirrored = _frame(
        [
            _row(1, "a", "deleted"),
            _row(2, "b"),
            _row(7, "parent", "deleted", **watcher),
            _row(8, "parent2", **watcher),
        ]
    )
    assert stale.changed_since_baseline(plan, mirrored, baseline, records) == []
    stranger = {**watcher, "associated_user_id": 102}  # observing someone we did not touch
    other = _frame(
        [_row(1, "a", "deleted"), _row(2, "b"), _row(7, "parent", **watcher), _row(9, "p3", **stranger)]
    )
    assert stale.changed_since_baseline(plan, other, baseline, records) == ["C"]
