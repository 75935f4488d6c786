"""Is Canvas still in the state the plan was computed from?

First run of a plan: the fingerprint of each touched course, fetched now, must equal the
one recorded in the plan (``reconcile.planner.fingerprint``). Once it does, a digest of
every enrollment row of those courses is stored in the journal as the plan's *baseline*,
before any write.

Resumed run (the journal shows operations of this plan already sent): the plan's
fingerprints cannot match any more, because of our own writes. We compare against the
baseline instead, leaving out every row our operations may have touched: rows whose
enrollment id an operation targeted or got back, rows that appeared since the baseline
and match the target of an operation we sent (an enroll interrupted before its answer
was journaled), every row of a (course, user) we set last-attended on, and the observer rows
of students we wrote to (Canvas mirrors a student's changes onto linked observers, facts
§14.1). Whatever we
leave out here is what the executor re-checks: done operations stay done, started ones
are verified or sent again. Any other difference (someone changed the roster by hand
between our runs) makes the plan stale, exactly as on a first run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from reconcile import ids
from reconcile.apply import journal as jr
from reconcile.plan import Action, Operation, Plan, Target

# What a row's digest covers: everything a person or another tool could change.
DIGEST_COLUMNS = (
    "id",
    "state",
    "course_id",
    "course_section_id",
    "user_id",
    "role",
    "role_id",
    "associated_user_id",
    "start_at",
    "end_at",
    "limit_privileges_to_course_section",
    "updated_at",
    "linked",
)


def touched_courses(plan: Plan) -> list[str]:
    """The course refs the plan's operations touch, in first-use order."""
    return list(dict.fromkeys(op.target.course for op in plan.operations))


def _text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def row_digests(current: pd.DataFrame, courses: Iterable[str]) -> dict[str, dict[int, str]]:
    """Per course ref, each enrollment id's digest; every course listed, even an empty one."""
    out: dict[str, dict[int, str]] = {course: {} for course in courses}
    if current.empty:
        return out
    wanted = current[current["course_ref"].isin(list(out))]
    columns = [c for c in DIGEST_COLUMNS if c in wanted.columns]
    for course, eid, values in zip(
        wanted["course_ref"].tolist(),
        wanted["id"].tolist(),
        wanted[columns].itertuples(index=False, name=None),
        strict=True,
    ):
        text = "\x1f".join(_text(v) for v in values)
        out[str(course)][int(eid)] = hashlib.sha256(text.encode()).hexdigest()[:24]
    return out


def changed_since_plan(plan: Plan, now: Mapping[str, str], courses: Iterable[str]) -> list[str]:
    """Courses whose fingerprint now differs from the plan's (first run of a plan)."""
    return [c for c in courses if (plan.fingerprints.get(c) or "") != (now.get(c) or "")]


def _user_matches(row: Mapping[str, Any], ref: str) -> bool:
    column, value = ids.split_ref(ref)
    if column == "id":
        return _text(row.get("user_id")) == value
    if column == "sis_user_id":
        return _text(row.get("sis_user_id")) == value
    if column == "sis_integration_id":
        return _text(row.get("user_integration_id")) == value
    if column == "sis_login_id":
        return _text(row.get("login_id")).lower() == value.lower()
    return False


def _section_matches(row: Mapping[str, Any], ref: str | None) -> bool:
    if ref is None:
        return True
    column, value = ids.split_ref(ref)
    if column == "id":
        return _text(row.get("course_section_id")) == value
    if column == "sis_section_id":
        return _text(row.get("sis_section_id")) == value
    return True  # another ref form: err on the side of "ours", the executor re-checks it


def _matches(row: Mapping[str, Any], target: Target, *, any_role: bool) -> bool:
    return (
        _text(row.get("course_ref")) == target.course
        and _user_matches(row, target.user)
        and (any_role or (_text(row.get("role")) == target.role and _section_matches(row, target.section)))
    )


def changed_since_baseline(
    plan: Plan,
    current: pd.DataFrame,
    baseline: Mapping[str, Mapping[int, str]],
    records: Mapping[str, jr.OperationRecord],
) -> list[str]:
    """Courses with a difference our own journaled operations do not explain (resumed run)."""
    sent = [
        op
        for op in plan.operations
        if (r := records.get(op.id)) is not None and r.status in (jr.STARTED, jr.DONE, jr.FAILED)
    ]
    touched_ids: set[int] = set()
    for op in sent:
        for value in ((op.before or {}).get("id"), records[op.id].enrollment_id):
            if value is not None:
                touched_ids.add(int(value))
    mirrored = _mirrored(sent, records)
    now = row_digests(current, baseline)
    rows_by_id: dict[int, Mapping[str, Any]] = {}
    if not current.empty:
        rows_by_id = {int(r["id"]): r for r in current.to_dict("records")}
    changed = []
    for course, then in baseline.items():
        ours = {
            eid
            for eid in now.get(course, {})
            if eid in touched_ids
            or _touched_by(rows_by_id.get(eid, {}), sent, new=eid not in then)
            or _mirror_of(rows_by_id.get(eid, {}), mirrored)
        }
        before = {eid: d for eid, d in then.items() if eid not in ours and eid not in touched_ids}
        after = {eid: d for eid, d in now.get(course, {}).items() if eid not in ours}
        if before != after:
            changed.append(course)
    return changed


def _mirrored(sent: list[Operation], records: Mapping[str, jr.OperationRecord]) -> set[tuple[str, int]]:
    """(course ref, student id) of every student we sent an operation for: Canvas mirrors a
    student's enrollment changes onto the observers linked to them (facts §14.1), so their
    observer rows in that course change or appear because of our writes."""
    out: set[tuple[str, int]] = set()
    for op in sent:
        record = records[op.id]
        for value in ((op.before or {}).get("user_id"), (record.response or {}).get("user_id")):
            if value is not None:
                out.add((op.target.course, int(value)))
    return out


def _mirror_of(row: Mapping[str, Any], mirrored: set[tuple[str, int]]) -> bool:
    if not row or _text(row.get("type")) != "ObserverEnrollment":
        return False
    student = _text(row.get("associated_user_id"))
    return student != "" and (_text(row.get("course_ref")), int(student)) in mirrored


def _touched_by(row: Mapping[str, Any], sent: list[Operation], *, new: bool) -> bool:
    for op in sent:
        if op.action is Action.SET_LAST_ATTENDED:
            if _matches(row, op.target, any_role=True):
                return True
        elif new and op.before is None and _matches(row, op.target, any_role=False):
            return True
    return False
