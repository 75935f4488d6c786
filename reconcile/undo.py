"""``reconcile undo RUN_ID``: an ordinary plan that puts back what one apply run changed.

Built by the planner itself, so every operation is one it makes anyway, with its own
request-building code: the desired table is "each enrollment the run touched, as it was
before the run" (from the operations' ``before`` in the plan the journal stored, read
through :class:`reconcile.apply.ledger.Ledger`), the current table is a fresh fetch of
those courses, and the rules do the rest (DESIGN §5, facts §3.4/§5):

- an enrollment the run concluded, deleted or inactivated is restored in place by a POST
  into its own section with its own user, type, role and associated user, which revives
  the same enrollment id with its old dates and section limit, or by reactivate;
- an enrollment it created is deleted (DELETE task=delete); ``--only removals`` leaves them;
- attributes it updated are POSTed back; a state it restored is concluded, deleted or
  inactivated again; last-attended dates are PUT back where there was one (Canvas cannot
  clear one);
- an enrollment it turned from invited into active goes back to invited through inactive
  (DELETE task=inactivate, then a POST, which then sets the state: the planner's demote).

Everything else is left alone (``policy.drop: ignore``, ownership ``all`` over exactly
those enrollments). Stale-checked twice: an enrollment whose state, section, role, dates
or limit changed since the run left it is reported as a plan warning and not touched;
and the plan carries the courses' fingerprints, so apply refuses it if Canvas changes
after it is made. Guards apply as to any plan. ``policy.undo`` records the run, and
``reconcile history`` shows undone runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reconcile.apply.ledger import Effect
from reconcile.drift import differences
from reconcile.frames import DESIRED_COLUMNS, conform, empty_frame
from reconcile.plan import DROP_ACTIONS, Action, Plan, PlanWarning

# a state before the run -> the roster status that asks for it back
STATUS_FOR = {
    "active": "active",
    "invited": "invited",
    "creation_pending": "invited",
    "inactive": "inactive",
    "completed": "completed",
    "deleted": "deleted",
}
ONLY = ("removals",)


class UndoError(Exception):
    """The run cannot be undone (unknown, refused before writing, no stored plan, another Canvas),
    or nothing of it can be: ``warnings`` then says why for each enrollment."""

    def __init__(self, message: str, *, warnings: Sequence[PlanWarning] = ()) -> None:
        super().__init__(message)
        self.warnings = tuple(warnings)


@dataclass(frozen=True)
class UndoInput:
    """What :func:`undo_rows` found: the desired table, the courses, and what it reports."""

    desired: pd.DataFrame
    courses: tuple[str, ...]
    warnings: tuple[PlanWarning, ...]
    enrollments: int  # enrollments the run touched


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def undo_rows(
    run_id: str, effects: Sequence[Effect], current: pd.DataFrame, *, only: str | None = None
) -> UndoInput:
    """The desired rows that put back what ``effects`` (one run's finished operations) changed,
    given ``current`` (the courses they touched, fetched now). Pure."""
    by_enrollment: dict[int, list[Effect]] = {}
    for effect in effects:
        eid = effect.record.enrollment_id or (effect.operation.before or {}).get("id")
        if eid is not None:
            by_enrollment.setdefault(int(eid), []).append(effect)
    live = {int(r["id"]): r for r in current.to_dict("records")} if len(current) else {}
    rows: list[dict[str, Any]] = []
    warnings: list[PlanWarning] = []
    courses: set[str] = set()

    def warn(code: str, first: Effect, message: str) -> None:
        target = first.operation.target
        warnings.append(PlanWarning(code=code, message=message, course=target.course, user=target.user))

    for eid, items in sorted(by_enrollment.items()):
        first = items[0]
        target = first.operation.target
        courses.add(target.course)
        what = f"{target.user} ({target.role}) in {target.course}, enrollment {eid}"
        actions = {e.operation.action for e in items}
        if only == "removals" and not actions & DROP_ACTIONS:
            continue
        created = Action.ENROLL in actions
        if created and only == "removals":
            continue
        row = live.get(eid)
        if row is None:
            warn("undo_enrollment_gone", first, f"{what} is no longer listed in the course; not undone")
            continue
        before = next((e.operation.before for e in items if e.operation.before), None)
        left = next(
            (e.record.response for e in reversed(items) if (e.record.response or {}).get("enrollment_state")),
            None,
        )
        pre = _pre_fields(before, row) if before else {"enrollment_state": "deleted"}
        back = not differences(pre, row) if before else row.get("state") == "deleted"
        if not back and left is not None:
            changed = differences(left, row)
            if changed:
                shown = "; ".join(f"{name} {a} -> {b}" for name, (a, b) in changed.items())
                warn(
                    "undo_changed_since_run",
                    first,
                    f"{what} changed since run {run_id} left it ({shown}; updated {_text(row.get('updated_at'))}); "
                    "not undone, so that change is not clobbered",
                )
                continue
        if created:
            rows.append(_desired(row, target.course, target.user, run_id, status="deleted"))
            continue
        assert before is not None
        state = str(before.get("state"))
        status = STATUS_FOR.get(state)
        if status is None:
            warn(
                "undo_impossible",
                first,
                f"{what} was {state} before run {run_id}; Canvas has no request that puts an enrollment back "
                "into that state (only its user can reject an invitation); not undone",
            )
            continue
        if state == "creation_pending":
            warn(
                "undo_as_invited",
                first,
                f"{what} was creation_pending before run {run_id}; the undo asks for invited, which Canvas "
                "turns into creation_pending again for a student or observer in an unpublished course "
                "(Course#enroll_user) and leaves invited otherwise",
            )
        attended = None
        if Action.SET_LAST_ATTENDED in actions:
            attended = before.get("last_attended_at")
            if attended is None:
                warn(
                    "undo_last_attended",
                    first,
                    f"{what} had no last_attended_at before run {run_id}; Canvas cannot clear one, so it stays",
                )
        rows.append(
            _desired(
                row,
                target.course,
                target.user,
                run_id,
                status=status,
                start_at=before.get("start_at"),
                end_at=before.get("end_at"),
                limit=bool(before.get("limit_privileges_to_course_section") or False),
                last_attended=attended,
            )
        )
    desired = conform(pd.DataFrame(rows), DESIRED_COLUMNS) if rows else empty_frame(DESIRED_COLUMNS)
    return UndoInput(desired, tuple(sorted(courses)), tuple(warnings), len(by_enrollment))


def _pre_fields(before: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's ``before`` in Canvas's field names, for comparing with a current row."""
    return {
        "enrollment_state": before.get("state"),
        "course_section_id": before.get("section_id"),
        "role": row.get("role"),  # a run never changes an enrollment's role
        "start_at": before.get("start_at"),
        "end_at": before.get("end_at"),
        "limit_privileges_to_course_section": before.get("limit_privileges_to_course_section"),
    }


def _desired(
    row: Mapping[str, Any],
    course: str,
    user: str,
    run_id: str,
    *,
    status: str,
    start_at: Any = None,
    end_at: Any = None,
    limit: bool = False,
    last_attended: Any = None,
) -> dict[str, Any]:
    """One desired row naming exactly ``row`` (its own section, user, role, observee)."""
    dated = status != "deleted"
    return {
        "course": course,
        "section": str(int(row["course_section_id"])),
        "user": user,
        "role": row["role"],
        "type": row["type"],
        "status": status,
        "start_at": start_at if dated else None,
        "end_at": end_at if dated else None,
        "limit_section_privileges": limit,
        "associated_user": _text(row.get("associated_user_id")),
        "notify": False,
        "last_attended_at": last_attended,
        "dates_managed": dated,
        "limit_managed": dated,
        "last_attended_managed": last_attended is not None,
        "origin_file": f"undo of run {run_id}",
        "origin_row": str(int(row["id"])),
    }


def undo_config(config: Any) -> Any:
    """The settings an undo plan is made with: exactly the enrollments named, nothing dropped,
    the roster (the run's "before") wins; guards as configured."""
    return dataclasses.replace(
        config,
        manage=dataclasses.replace(config.manage, roles=None, courses=(), ownership="all"),
        policy=dataclasses.replace(config.policy, drop="ignore", drift="revert", notify=False),
    )


def make_undo_plan(
    run_id: str,
    *,
    config: Any,
    client: Any,
    only: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Plan, UndoInput]:
    """The undo plan of ``run_id`` (a unique prefix is enough), fetched and planned now.

    Raises :class:`UndoError` when the run is unknown, did nothing, has no stored plan, or was
    made against another Canvas; lets the Canvas client's errors through."""
    from pathlib import Path

    from reconcile.apply import journal as jr
    from reconcile.apply.ledger import Ledger
    from reconcile.planner import build_plan

    if not (Path(config.state_dir) / jr.JOURNAL_FILE).exists():
        raise UndoError(f"no apply runs recorded yet (state dir {config.state_dir})")
    with Ledger.in_state_dir(config.state_dir) as ledger:
        try:
            run, plan, effects = ledger.run_effects(run_id)
        except KeyError:
            raise UndoError(f"no run {run_id!r} in the journal (or the prefix is ambiguous)") from None
    if plan is None:
        raise UndoError(
            f"run {run.run_id} ({run.outcome}) has no stored plan in the journal: it wrote nothing, or was "
            "applied by a version of reconcile that did not keep plans, so there is nothing to undo from"
        )
    url = getattr(client, "base_url", None) or config.canvas.url
    if run.canvas_url and url and run.canvas_url.rstrip("/") != url.rstrip("/"):
        raise UndoError(
            f"run {run.run_id} was applied to {run.canvas_url}, but Canvas is configured as {url}"
        )
    courses = sorted({e.operation.target.course for e in effects})
    current = client.fetch_current(courses) if courses else None
    found = undo_rows(run.run_id, effects, current if current is not None else _empty(), only=only)
    if not found.courses or current is None:
        raise UndoError(
            f"run {run.run_id} ({run.outcome}) finished no operation, so there is nothing to undo"
        )
    if found.desired.empty:
        raise UndoError(
            f"nothing of run {run.run_id} can be undone" + (" with --only removals" if only else ""),
            warnings=found.warnings,
        )
    undo_plan = build_plan(
        found.desired,
        current,
        undo_config(config),
        now=now or dt.datetime.now(dt.timezone.utc),
        canvas_url=url,
        source="live",
        only_courses=found.courses,
        extra_warnings=found.warnings,
        demote=True,
        extra_policy={"undo": {"run_id": run.run_id, "plan_id": run.plan_id, "only": only}},
    )
    return undo_plan, found


def _empty() -> pd.DataFrame:
    from reconcile.frames import CURRENT_COLUMNS

    return empty_frame(CURRENT_COLUMNS)
