"""Hypothesis properties of the planner: in-sync input plans nothing; plans are deterministic and
round-trip through JSON; and (over real HTTP) applying a plan's requests then re-planning finds
nothing left to do."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconcile.canvas import CanvasClient
from reconcile.config import Config, ManageSettings
from reconcile.frames import CURRENT_COLUMNS, DESIRED_COLUMNS, conform
from reconcile.plan import plan_from_json, plan_to_json
from reconcile.planner import build_plan
from reconcile.planner.verify import verify_plan

from .execute import execute
from .factory import NOW, SECTIONS, config, current_frame, desired_frame, have, plan_of, want

STATE_TO_STATUS = {
    "active": "active",
    "invited": "invited",
    "creation_pending": "invited",
    "inactive": "inactive",
    "completed": "completed",
    "deleted": "deleted",
    "rejected": "deleted",
}
DATES = [
    None,
    ("2026-08-01T00:00:00Z", "2026-12-20T00:00:00Z"),
    ("2026-10-01T00:00:00Z", "2027-01-31T00:00:00Z"),
]
ROLES = ["StudentEnrollment", "TaEnrollment", "TeacherEnrollment"]

canvas_rows = st.lists(
    st.tuples(
        st.integers(0, 12),  # user
        st.sampled_from(sorted(SECTIONS)),
        st.sampled_from(ROLES),
        st.sampled_from(sorted(STATE_TO_STATUS)),
        st.sampled_from(range(len(DATES))),
        st.booleans(),  # limit privileges
    ),
    max_size=25,
    unique_by=lambda r: (r[0], r[1], r[2]),
)


def _current(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    out = []
    for user, section, role, state, dates, limit in rows:
        start, end = DATES[dates] or (None, None)
        out.append(
            have(
                f"u{user}",
                section=section,
                role=role,
                state=state,
                start_at=start,
                end_at=end,
                limit_privileges_to_course_section=limit,
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(canvas_rows, st.data())
def test_desired_equal_to_current_plans_nothing(rows: list[tuple[Any, ...]], data: st.DataObject) -> None:
    current = _current(rows)
    per_identity = pd.Series([(r[0], r[2]) for r in rows]).value_counts() if rows else pd.Series(dtype=int)
    desired = []
    for row, (user, section, role, state, _dates, limit) in zip(current, rows, strict=True):
        alone = per_identity[(user, role)] == 1
        desired.append(
            want(
                f"u{user}",
                role=role,
                section=None if alone and data.draw(st.booleans()) else section,
                status=STATE_TO_STATUS[state],
                dates_managed=data.draw(st.booleans()),
                start_at=row.get("start_at"),
                end_at=row.get("end_at"),
                limit_managed=data.draw(st.booleans()),
                limit_section_privileges=limit,
            )
        )
    plan = plan_of(desired, current, cfg=config(roles=tuple(ROLES)))
    assert plan.operations == (), [(op.action.value, op.target, op.reason) for op in plan.operations]


roster_rows = st.lists(
    st.tuples(
        st.integers(0, 12),
        st.sampled_from([None, *sorted(SECTIONS)]),
        st.sampled_from(ROLES),
        st.sampled_from(["active", "invited", "inactive", "completed", "deleted", "deleted_last_completed"]),
        st.booleans(),
    ),
    max_size=20,
    unique_by=lambda r: (r[0], r[2]),
)


def _desired(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [
        want(
            f"u{user}",
            section=section,
            role=role,
            status=status,
            limit_managed=limit,
            limit_section_privileges=True,
        )
        for user, section, role, status, limit in rows
    ]


@settings(max_examples=100, deadline=None)
@given(roster_rows, canvas_rows)
def test_plans_are_deterministic_and_round_trip(
    desired_rows: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]
) -> None:
    desired, current = _desired(desired_rows), _current(rows)
    first = plan_of(desired, current)
    second = plan_of(list(reversed(desired)), list(reversed(current)))
    assert [op.id for op in first.operations] == [op.id for op in second.operations]
    text = plan_to_json(first)
    assert plan_from_json(text) == first
    assert plan_to_json(plan_from_json(text)) == text
    ids = [op.id for op in first.operations]
    assert len(ids) == len(set(ids))
    assert all(dep in ids for op in first.operations for dep in op.depends_on)
    verify_plan(plan_from_json(text))  # what the planner writes, the load-time check accepts


# --- over real HTTP ----------------------------------------------------------------------

SEED_COURSES = ["sis_course_id:MATH101-F26", "sis_course_id:BIO110-F26"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_applying_a_plan_then_replanning_is_empty(university, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    university.simulator.reset()
    university.simulator.set_faults(throttle="off")
    with CanvasClient(university.url, university.token) as client:
        current = client.fetch_current(SEED_COURSES)
        desired = _random_roster(current, data)
        cfg = Config(manage=ManageSettings(roles=("StudentEnrollment", "TaEnrollment")))
        plan = build_plan(desired, current, cfg, now=NOW)
        event(f"operations: {min(len(plan.operations), 10)}{'+' if len(plan.operations) >= 10 else ''}")
        event(f"moves: {'yes' if plan.summary['moves'] else 'no'}")
        execute(client, plan)
        after = client.fetch_current(SEED_COURSES)
        again = build_plan(desired, after, cfg, now=NOW)
    assert again.operations == (), [(op.action.value, op.target, op.reason) for op in again.operations]


def _random_roster(current: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    """Keep, change or drop each managed Canvas row; add some users of the seed to other courses."""
    statuses = ["active", "invited", "inactive", "completed", "deleted", "deleted_last_completed"]
    managed = current[
        current["role"].isin(["StudentEnrollment", "TaEnrollment"]) & current["sis_user_id"].notna()
    ]
    managed = managed[
        managed["temporary_enrollment_source_user_id"].isna() & managed["associated_user_id"].isna()
    ]
    rows = []
    seen = set()
    sections = {
        course: sorted(set(group["sis_section_id"].dropna()))
        for course, group in current.groupby("course_ref")
    }
    for row in managed.to_dict("records"):
        key = (row["course_ref"], row["sis_user_id"], row["role"])
        if key in seen or data.draw(st.integers(0, 9)) == 0:  # ~10% absent from the roster
            continue
        seen.add(key)
        section = row["sis_section_id"]
        if section and data.draw(st.integers(0, 5)) == 0:  # some move to another section
            section = data.draw(st.sampled_from(sections[row["course_ref"]]))
        rows.append(
            {
                "course": row["course_ref"],
                "section": f"sis_section_id:{section}" if section else None,
                "user": f"sis_user_id:{row['sis_user_id']}",
                "role": row["role"],
                "type": row["type"],
                "status": data.draw(st.sampled_from(statuses)),
                "limit_managed": data.draw(st.booleans()),
                "limit_section_privileges": data.draw(st.booleans()),
                "dates_managed": False,
                "last_attended_managed": False,
            }
        )
    students = sorted(set(managed["sis_user_id"].dropna()))
    for course in SEED_COURSES:
        for user in data.draw(st.lists(st.sampled_from(students), max_size=3, unique=True)):
            key = (course, user, "StudentEnrollment")
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "course": course,
                    "section": None,
                    "user": f"sis_user_id:{user}",
                    "role": "StudentEnrollment",
                    "type": "StudentEnrollment",
                    "status": data.draw(st.sampled_from(["active", "invited", "inactive"])),
                    "dates_managed": False,
                    "limit_managed": False,
                    "last_attended_managed": False,
                }
            )
    if not rows:
        return desired_frame()
    return conform(pd.DataFrame(rows), DESIRED_COLUMNS)


def test_frames_module_contract_is_what_the_property_builds() -> None:
    assert list(current_frame().columns) == list(CURRENT_COLUMNS)
    assert list(desired_frame().columns) == list(DESIRED_COLUMNS)
