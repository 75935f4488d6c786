"""Has this plan already been applied, by another run, in a course that changed since the plan?

Two applies of one plan can run from two state dirs (two CI runners, a cron job and a
person), each with its own journal: the second cannot know from its journal what the first
did, and would either refuse the plan as stale or send every write again. It asks Canvas:
a course whose fingerprint differs from the plan's is *explained* when every operation of
the plan in that course is either still undone (its row as ``before`` says) or already in
effect (its row as ``after`` says, or for an enroll a new row that matches it), and
putting those rows back as they were at plan time (``before``, updated_at included;
dropping the new rows) gives exactly the fingerprint the plan recorded. Then nobody else
touched the course, the operations in effect are recorded as already held without a
request, and the others run. Anything else (a hand edit, another plan's writes, a row
Canvas changed on its own such as a mirrored observer, facts §14.1) is not explained:
the course is stale, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from reconcile.apply import stale
from reconcile.plan import DROP_ACTIONS, Action, Operation, Plan
from reconcile.planner.fingerprint import fingerprint

POSTS = (Action.ENROLL, Action.RESTORE, Action.UPDATE)
Held = dict[str, dict[str, Any]]  # op id -> the Canvas row (as enrollment JSON scalars) showing it in effect


def explain(plan: Plan, current: pd.DataFrame, course: str) -> Held | None:
    """The operations of ``course`` already in effect, when the course's difference from the
    plan's fingerprint is explained by them alone (see the module docstring); None otherwise."""
    rows = current[current["course_ref"] == course]
    by_id = {int(eid): position for position, eid in enumerate(rows["id"].tolist())}
    records = rows.to_dict("records")
    ops = [op for op in plan.operations if op.target.course == course]
    dropped_later = {int(op.before["id"]) for op in ops if op.before and op.action in DROP_ACTIONS}
    held: Held = {}
    restored: dict[int, Mapping[str, Any]] = {}  # row position -> the before it had at plan time
    new_rows: set[int] = set()
    for op in ops:
        state: str | None
        position: int | None
        if op.action is Action.SET_LAST_ATTENDED:
            state, position = _last_attended(op, records)
        elif op.before is None:
            state, position = _enroll(op, records)
            if state == "held" and position is not None:
                new_rows.add(position)
        else:
            position = by_id.get(int(op.before["id"]))
            if position is None:
                return None
            state = _by_id(op, records[position], ignore_state=int(op.before["id"]) in dropped_later)
            if state == "held":
                restored[position] = op.before
        if state is None:
            return None
        if state == "held" and position is not None:
            held[op.id] = _json(records[position])
    if not held:
        return None  # nothing of ours in effect: the change is someone else's
    then = _as_planned(rows, restored, new_rows)
    if fingerprint(then, courses=[course]).get(course) != plan.fingerprints.get(course):
        return None
    return held


def applied_elsewhere(plan: Plan, current: pd.DataFrame, courses: Iterable[str]) -> tuple[Held, list[str]]:
    """For the changed ``courses``: the operations already in effect where the change is
    explained, and the courses whose change is not (stale)."""
    held: Held = {}
    stale_courses = []
    for course in courses:
        found = explain(plan, current, course)
        if found is None:
            stale_courses.append(course)
        else:
            held.update(found)
    return held, stale_courses


# -- one operation against its row --------------------------------------------------------


def _by_id(op: Operation, row: Mapping[str, Any], *, ignore_state: bool) -> str | None:
    """held | pending | None (the row is neither as before nor as after). A POST followed by
    a drop of the same row (attributes first, then inactivate) is judged on its attributes."""
    before, after = op.before or {}, op.after or {}
    if op.action in POSTS:
        fields = ("start_at", "end_at", "limit_privileges_to_course_section")
        state_ok = ignore_state or row.get("state") == after.get("state")
        if state_ok and all(_same(row.get(f), after.get(f)) for f in fields):
            return "held"
        if (ignore_state or row.get("state") == before.get("state")) and all(
            _same(row.get(f), before.get(f)) for f in fields
        ):
            return "pending"
        return None
    if row.get("state") == after.get("state"):
        return "held"
    if row.get("state") == before.get("state"):
        return "pending"
    return None


def _enroll(op: Operation, records: Sequence[Mapping[str, Any]]) -> tuple[str | None, int | None]:
    after = op.after or {}
    for position, row in enumerate(records):
        if not stale.matches_target(row, op.target, any_role=False):
            continue
        observee = after.get("associated_user_id")
        if observee is not None and not _same(row.get("associated_user_id"), observee):
            continue
        fields = ("start_at", "end_at", "limit_privileges_to_course_section")
        if row.get("state") == after.get("state") and all(_same(row.get(f), after.get(f)) for f in fields):
            return "held", position
        return None, None  # a row for our target that is not what we would have made
    return "pending", None


def _last_attended(op: Operation, records: Sequence[Mapping[str, Any]]) -> tuple[str, int | None]:
    """Canvas sets the date on every row of (course, user) without touching updated_at (facts
    §5.5), so these rows count as unchanged for the fingerprint either way."""
    user = (op.before or {}).get("user_id")
    mine = [p for p, r in enumerate(records) if _same(r.get("user_id"), user)]
    wanted = (op.after or {}).get("last_attended_at")
    if mine and all(_same(records[p].get("last_attended_at"), wanted) for p in mine):
        return "held", mine[0]
    return "pending", None


# -- the course as it was at plan time -----------------------------------------------------


def _as_planned(
    rows: pd.DataFrame, restored: Mapping[int, Mapping[str, Any]], new_rows: set[int]
) -> pd.DataFrame:
    """The course's rows put back as the plan saw them: what its fingerprint was taken over."""
    then = rows.reset_index(drop=True).copy()
    for position, before in restored.items():  # a drop or a revival keeps the row's role
        then.loc[position, "state"] = before.get("state")
        then.loc[position, "course_section_id"] = before.get("section_id")
        then.loc[position, "role_id"] = before.get("role_id")
        for field in ("start_at", "end_at", "updated_at"):
            value = before.get(field)
            then.loc[position, field] = pd.NaT if value is None else pd.Timestamp(value)
    if new_rows:
        then = then.drop(index=sorted(new_rows)).reset_index(drop=True)
    return then


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # limit_privileges: missing means false
        return bool(False if _missing(a) else a) == bool(False if _missing(b) else b)
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, pd.Timestamp) or isinstance(b, str) and "T" in b:
        try:
            return pd.Timestamp(a) == pd.Timestamp(b)
        except (TypeError, ValueError):
            return False
    return str(a) == str(b)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as the scalar fields of Canvas's enrollment JSON (what a response would say)."""
    out: dict[str, Any] = {}
    for key, value in (
        ("id", row.get("id")),
        ("user_id", row.get("user_id")),
        ("course_id", row.get("course_id")),
        ("course_section_id", row.get("course_section_id")),
        ("enrollment_state", row.get("state")),
        ("role", row.get("role")),
    ):
        if _missing(value) or value is None:
            out[key] = None
        else:
            out[key] = int(value) if key.endswith("id") else str(value)
    return out
