"""``reconcile.drift.compare`` and ``annotate`` (DESIGN §7 "Drift and undo"): live rows against what the
tool last left there. Pure: frames and records in, items out."""

from __future__ import annotations

from reconcile.drift import ClaimedRow, LeftState, annotate, compare
from reconcile.plan import Action

from .factory import COURSE, config, current_frame, have, plan_of, want

SEEN = {COURSE: ("2026-09-05T00:00:00.000Z", "2026-09-01T00:00:00Z")}
ROLES = ("StudentEnrollment", "TaEnrollment", "ObserverEnrollment")


def claimed(row: dict) -> ClaimedRow:
    return ClaimedRow(
        row["id"], COURSE, f"sis_user_id:{row['sis_user_id']}", row["role"], "sis_section_id:MATH101-01"
    )


def left(row: dict, **fields: object) -> LeftState:
    snapshot = {
        "enrollment_state": row["state"],
        "course_section_id": row["course_section_id"],
        "role": row["role"],
        "start_at": row.get("start_at"),
        "end_at": row.get("end_at"),
        "limit_privileges_to_course_section": row["limit_privileges_to_course_section"],
    }
    snapshot.update(fields)
    return LeftState(snapshot, "2026-09-05T00:00:00.000Z", "run-1")


def items_of(rows: list[dict], claims: list[dict], lefts: dict[int, LeftState], **kwargs):  # type: ignore[no-untyped-def]
    return compare(
        current_frame(*rows),
        claims=[claimed(r) for r in claims],
        left=lefts,
        seen=kwargs.pop("seen", SEEN),
        managed_roles=kwargs.pop("roles", ROLES),
        courses=[COURSE],
    )


def test_nothing_changed_is_no_drift() -> None:
    row = have(
        "s1",
        start_at="2026-09-01T00:00:00Z",
        end_at="2026-12-01T00:00:00Z",
        created_at="2026-08-01T00:00:00Z",
    )
    snapshot = left(row, start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    items, unknown = items_of([row], [row], {row["id"]: snapshot})
    assert items == [] and unknown == 0


def test_each_compared_field_is_reported_with_before_and_now() -> None:
    row = have("s1", state="completed", limit_privileges_to_course_section=True, end_at="2026-12-02T00:00:00Z",
               start_at="2026-09-01T00:00:00Z", updated_at="2026-09-10T08:00:00Z")  # fmt: skip
    was = left(row, enrollment_state="active", limit_privileges_to_course_section=False,
               start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")  # fmt: skip
    (item,), _ = items_of([row], [row], {row["id"]: was})
    assert item.kind == "changed" and item.updated_at == "2026-09-10T08:00:00Z"
    assert item.changes == {
        "state": ("active", "completed"),
        "end_at": ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"),
        "limit_privileges_to_course_section": (False, True),
    }
    assert item.left_by == "run-1"


def test_a_claimed_enrollment_no_longer_listed_disappeared_and_one_with_no_record_is_counted() -> None:
    gone, unknown_row = have("gone"), have("fresh")
    items, unknown = items_of([unknown_row], [gone, unknown_row], {gone["id"]: left(gone)})
    assert [(i.kind, i.user, i.state) for i in items] == [("disappeared", "sis_user_id:gone", None)]
    assert unknown == 1


def test_an_unclaimed_live_row_created_after_the_last_read_appeared() -> None:
    new_ta = have("ta", role="TaEnrollment", created_at="2026-09-06T09:00:00Z")
    old = have("old", created_at="2026-08-01T00:00:00Z")  # there when the tool last read the course
    gone = have("gone2", state="deleted", created_at="2026-09-07T00:00:00Z")  # not live
    other_role = have("t1", role="TeacherEnrollment", created_at="2026-09-07T00:00:00Z")  # not managed
    temp = have("tmp", temporary_enrollment_source_user_id=3, created_at="2026-09-07T00:00:00Z")
    linked = have(
        "p1", role="ObserverEnrollment", associated_user_id=5, linked=True, created_at="2026-09-07T00:00:00Z"
    )
    items, _ = items_of([new_ta, old, gone, other_role, temp, linked], [], {})
    assert [(i.kind, i.user, i.role) for i in items] == [("appeared", "sis_user_id:ta", "TaEnrollment")]
    assert items[0].created_at == "2026-09-06T09:00:00Z"
    # a course the tool never read cannot tell what is new; one it read empty can
    assert items_of([new_ta], [], {}, seen={})[0] == []
    assert len(items_of([new_ta], [], {}, seen={COURSE: ("t", None)})[0]) == 1


def test_annotate_says_what_the_next_plan_would_do() -> None:
    concluded = have("s1", state="completed")
    plan = plan_of([want("s1")], [concluded], cfg=config())
    (item,), _ = items_of(
        [concluded], [concluded], {concluded["id"]: left(concluded, enrollment_state="active")}
    )
    (annotated,) = annotate([item], plan)
    assert plan.operations[0].action is Action.RESTORE
    assert annotated.next_plan == "restore (state_differs)"
    nothing = plan_of([want("s1", status="completed")], [concluded], cfg=config())
    assert annotate([item], nothing)[0].next_plan.startswith("nothing")
