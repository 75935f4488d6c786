"""Drift: live Canvas against what the tool last left there (DESIGN §7 "Drift and undo").

:func:`compare` is pure. For every claimed enrollment of the courses checked it compares the
live row with what the tool last left in it (:meth:`reconcile.apply.ledger.Ledger.last_left`:
Canvas's answer to the tool's last write, or what it observed when claiming) and reports:

- ``changed``: state, section, role, start or end date, or the section limit differ;
- ``disappeared``: a claimed enrollment the course no longer lists at all (Canvas lists
  deleted rows too, so this is a hard delete, or a section cross-listed away, facts §14.2);
- ``appeared``: a live enrollment in a managed role that is not claimed and was created
  after the tool last read the course (``created_at`` against the newest one it saw then):
  added by hand, or by another tool. Observer rows Canvas keeps from an observer link are
  Canvas's own and never reported.

Each item carries Canvas's ``updated_at`` (and ``created_at``), the only "who/when" the
Enrollments API gives, and, once :func:`annotate` has seen the next plan, what that plan
would do with it. :func:`drift_report` does the I/O around them: claim set, ledger, one
fetch of the courses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from reconcile.plan import Action, Plan
from reconcile.planner.keys import iso

KINDS = ("changed", "disappeared", "appeared")
LIVE = ("active", "invited", "creation_pending", "inactive")
NEVER_TOUCHED_TYPES = ("StudentViewEnrollment",)
# drift field -> (ledger snapshot key, current column)
FIELDS = {
    "state": ("enrollment_state", "state"),
    "section": ("course_section_id", "course_section_id"),
    "role": ("role", "role"),
    "start_at": ("start_at", "start_at"),
    "end_at": ("end_at", "end_at"),
    "limit_privileges_to_course_section": (
        "limit_privileges_to_course_section",
        "limit_privileges_to_course_section",
    ),
}
UNKNOWN_NEXT = (
    "not planned: give the roster files (reconcile drift ROSTER...) to see what the next plan would do"
)


@dataclass(frozen=True)
class ClaimedRow:
    """What :func:`compare` needs of one claim (see :class:`reconcile.apply.claims.Claim`)."""

    enrollment_id: int
    course: str
    user: str
    role: str
    section: str | None


@dataclass(frozen=True)
class LeftState:
    """What the tool last left in an enrollment: Canvas's fields, when, by which run."""

    fields: Mapping[str, Any]
    at: str
    run_id: str | None


@dataclass(frozen=True)
class DriftItem:
    kind: str  # changed | disappeared | appeared
    course: str
    enrollment_id: int
    user: str
    role: str
    section: str | None
    state: str | None  # live state (None when disappeared)
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (left, now)
    updated_at: str | None = None
    created_at: str | None = None
    left_at: str | None = None
    left_by: str | None = None  # run id
    next_plan: str = UNKNOWN_NEXT


@dataclass(frozen=True)
class DriftReport:
    canvas_url: str | None
    courses: tuple[str, ...]
    items: tuple[DriftItem, ...]
    claimed: int  # claimed enrollments in the courses checked
    unknown: int  # claimed ones the journal has no record of (not compared)
    unseen_courses: tuple[str, ...] = ()  # courses the tool never read: "appeared" cannot be told
    planned_with: tuple[str, ...] = ()  # roster files the next plan was made from

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for item in self.items if item.kind == kind) for kind in KINDS}


TIMES = ("start_at", "end_at", "created_at", "updated_at")


def _value(value: Any, *, time: bool = False) -> Any:
    """A comparable form of one field: ISO text for times, int for ids, plain bool, None for missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if time or isinstance(value, pd.Timestamp):
        return iso(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    text = str(value)
    return int(text) if text.isdigit() else text


def _same(name: str, left: Any, now: Any) -> bool:
    if name == "limit_privileges_to_course_section":
        return bool(left) == bool(now)
    time = name in TIMES
    return _value(left, time=time) == _value(now, time=time)


def _flag(value: Any) -> bool:
    return value is not None and value is not pd.NA and bool(value)


def _later(a: Any, b: Any) -> bool:
    """Whether time ``a`` is after time ``b`` (both present)."""
    return bool(pd.Timestamp(_value(a, time=True)) > pd.Timestamp(_value(b, time=True)))


def differences(left: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The compared fields (:data:`FIELDS`) in which a current row differs from Canvas's fields
    ``left`` (a ledger snapshot or an enrollment JSON object): name -> (left, now)."""
    return {
        name: (_value(left.get(key), time=name in TIMES), _value(row.get(column), time=name in TIMES))
        for name, (key, column) in FIELDS.items()
        if not _same(name, left.get(key), row.get(column))
    }


def compare(
    current: pd.DataFrame,
    *,
    claims: Iterable[ClaimedRow],
    left: Mapping[int, LeftState],
    seen: Mapping[str, tuple[str, str | None]],
    managed_roles: Iterable[str],
    courses: Sequence[str],
) -> tuple[list[DriftItem], int]:
    """Drift items for ``courses`` (pure) and the number of claimed enrollments with no record.

    ``current``: every enrollment of those courses (frames.CURRENT_COLUMNS); ``seen``: per
    course, when the tool last read it and the newest ``created_at`` it saw then."""
    wanted = set(courses)
    rows = current[current["course_ref"].isin(list(wanted))] if len(current) else current
    by_id = {int(r["id"]): r for r in rows.to_dict("records")}
    claimed_ids: set[int] = set()
    items: list[DriftItem] = []
    unknown = 0
    for claim in claims:
        if claim.course not in wanted:
            continue
        claimed_ids.add(claim.enrollment_id)
        row = by_id.get(claim.enrollment_id)
        record = left.get(claim.enrollment_id)
        if row is None:
            items.append(
                DriftItem(
                    kind="disappeared",
                    course=claim.course,
                    enrollment_id=claim.enrollment_id,
                    user=claim.user,
                    role=claim.role,
                    section=claim.section,
                    state=None,
                    left_at=record.at if record else None,
                    left_by=record.run_id if record else None,
                )
            )
            continue
        if record is None:
            unknown += 1
            continue
        changes = differences(record.fields, row)
        if changes:
            items.append(_item("changed", row, claim.user, changes=changes, record=record))
    roles = set(managed_roles)
    for eid, row in by_id.items():
        if eid in claimed_ids or row.get("role") not in roles or row.get("state") not in LIVE:
            continue
        if row.get("type") in NEVER_TOUCHED_TYPES or _value(row.get("temporary_enrollment_source_user_id")):
            continue
        if _flag(row.get("linked")):  # Canvas made it from an observer link (facts §14.1), not a person
            continue
        course = str(row["course_ref"])
        if course not in seen:
            continue
        newest = seen[course][1]
        created = _value(row.get("created_at"), time=True)
        if newest is None or (created is not None and _later(created, newest)):
            items.append(_item("appeared", row, _user_ref(row), changes={}, record=None))
    items.sort(key=lambda i: (i.course, KINDS.index(i.kind), i.user, i.role, i.enrollment_id))
    return items, unknown


def _user_ref(row: Mapping[str, Any]) -> str:
    sis = _value(row.get("sis_user_id"))
    return f"sis_user_id:{sis}" if sis is not None else str(_value(row.get("user_id")))


def _section_ref(row: Mapping[str, Any]) -> str | None:
    sis = _value(row.get("sis_section_id"))
    if sis is not None:
        return f"sis_section_id:{sis}"
    section = _value(row.get("course_section_id"))
    return str(section) if section is not None else None


def _item(
    kind: str,
    row: Mapping[str, Any],
    user: str,
    *,
    changes: Mapping[str, tuple[Any, Any]],
    record: LeftState | None,
) -> DriftItem:
    return DriftItem(
        kind=kind,
        course=str(row["course_ref"]),
        enrollment_id=int(row["id"]),
        user=user,
        role=str(row.get("role")),
        section=_section_ref(row),
        state=str(row.get("state")),
        changes=dict(changes),
        updated_at=_text(row.get("updated_at")),
        created_at=_text(row.get("created_at")),
        left_at=record.at if record else None,
        left_by=record.run_id if record else None,
    )


def _text(value: Any) -> str | None:
    out = _value(value, time=True)
    return None if out is None else str(out)


# --- what the next plan would do ------------------------------------------------------


def annotate(items: Sequence[DriftItem], plan: Plan) -> list[DriftItem]:
    """``items`` with ``next_plan`` saying what ``plan`` (made from the rosters) does with each."""
    by_enrollment: dict[int, list[str]] = {}
    arrivals: dict[tuple[str, str, str], list[str]] = {}
    for op in plan.operations:
        text = f"{op.action.value} ({op.reason})"
        before_id = (op.before or {}).get("id")
        if before_id is not None:
            by_enrollment.setdefault(int(before_id), []).append(text)
        elif op.action is Action.ENROLL:
            arrivals.setdefault((op.target.course, op.target.user, op.target.role), []).append(text)
    notes: dict[tuple[str, str | None, str], str] = {}
    for warning in plan.warnings:
        if warning.course is not None and warning.code in ("drift_kept", "not_managed"):
            notes[(warning.course, warning.user, warning.code)] = warning.code
    claimed_mode = (plan.policy.get("scope") or {}).get("ownership") == "claimed"
    out = []
    for item in items:
        ops = by_enrollment.get(item.enrollment_id)
        if ops:
            text = ", then ".join(ops)
        elif item.kind == "disappeared":
            again = arrivals.get((item.course, item.user, item.role))
            text = f"{again[0]}: enroll it again" if again else "nothing (the roster does not list it)"
        elif (item.course, item.user, "drift_kept") in notes:
            text = "nothing: the hand change is kept (policy.drift: keep)"
        elif (item.course, item.user, "not_managed") in notes:
            text = "nothing: outside manage scope (manage.ownership or manage.roles)"
        elif item.kind == "appeared" and claimed_mode:
            text = "nothing: not claimed by this tool (manage.ownership: claimed)"
        else:
            text = "nothing (the roster agrees with Canvas as it is now, or does not manage what changed)"
        out.append(replace(item, next_plan=text))
    return out


# --- I/O: one report -------------------------------------------------------------------


def drift_report(
    config: Any,
    *,
    client: Any,
    rosters: Sequence[str] = (),
    courses: Sequence[str] | None = None,
    roster_format: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> DriftReport:
    """Fetch the claimed courses (plus the rosters' and ``manage.courses``; or exactly
    ``courses``) once and compare them with the journal; with ``rosters``, also plan them
    against the same fetch to say what the next plan would do with each item.

    Raises ``RosterInvalid`` for a bad roster, ``ClaimsError`` for a bad claim set, and the
    Canvas client's errors."""
    from reconcile.apply import journal as jr
    from reconcile.apply.claims import ClaimSet
    from reconcile.apply.ledger import Ledger
    from reconcile.pipeline import _course_ref, make_plan, scope_courses

    canvas_url = getattr(client, "base_url", None) or config.canvas.url
    account = config.canvas.account_id
    claim_set = ClaimSet.load(config.state_dir, canvas_url=canvas_url, account=account)
    claims = [ClaimedRow(c.enrollment_id, c.course, c.user, c.role, c.section) for c in claim_set.records()]
    roster_result = None
    if rosters:
        from reconcile.pipeline import RosterInvalid
        from reconcile.roster import load_rosters

        roster_result = load_rosters(list(rosters), config=config, format=roster_format)
        if not roster_result.ok:
            raise RosterInvalid(roster_result)
    if courses:
        scope = sorted({_course_ref(c) for c in courses})
    else:
        named = (
            set(scope_courses(roster_result, config))
            if roster_result is not None
            else set(config.manage.courses)
        )
        scope = sorted({c.course for c in claims} | named)
    journal_exists = (Path(config.state_dir) / jr.JOURNAL_FILE).exists()
    left: dict[int, LeftState] = {}
    seen: dict[str, tuple[str, str | None]] = {}
    if journal_exists:
        with Ledger.in_state_dir(config.state_dir) as ledger:
            ids = [c.enrollment_id for c in claims if c.course in set(scope)]
            left = {
                eid: LeftState(rec.snapshot, rec.at, rec.run_id) for eid, rec in ledger.last_left(ids).items()
            }
            seen = ledger.courses_seen()
    current = client.fetch_current(scope, on_progress=on_progress) if scope else _empty_current()
    if config.manage.roles is not None:
        roles: set[str] = set(config.manage.roles)
    elif roster_result is not None:
        roles = {str(r) for r in roster_result.desired["role"].dropna().unique().tolist()}
    else:
        roles = {c.role for c in claims}
    if "ObserverEnrollment" in roles and hasattr(client, "transport") and len(current):
        from reconcile.canvas.state import fetch_links

        current, _ = fetch_links(client, current)
    items, unknown = compare(current, claims=claims, left=left, seen=seen, managed_roles=roles, courses=scope)
    if rosters:
        plan, _ = make_plan(
            list(rosters),
            config=config,
            client=_Prefetched(client, current),
            courses=scope if courses else None,
            roster_format=roster_format,
        )
        items = annotate(items, plan)
    return DriftReport(
        canvas_url=canvas_url,
        courses=tuple(scope),
        items=tuple(items),
        claimed=sum(1 for c in claims if c.course in set(scope)),
        unknown=unknown,
        unseen_courses=tuple(c for c in scope if c not in seen),
        planned_with=tuple(str(r) for r in rosters),
    )


def _empty_current() -> pd.DataFrame:
    from reconcile.frames import CURRENT_COLUMNS, empty_frame

    return empty_frame(CURRENT_COLUMNS)


class _Prefetched:
    """The Canvas client, except that the courses drift already fetched are not fetched again
    (the plan and the comparison must rest on the same state)."""

    def __init__(self, client: Any, current: pd.DataFrame) -> None:
        self._client = client
        self._current = current
        self.base_url = getattr(client, "base_url", None)
        if hasattr(client, "transport"):
            self.transport = client.transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def fetch_current(self, course_refs: Sequence[str], **options: Any) -> pd.DataFrame:
        have = set(self._current["course_ref"].dropna().unique().tolist()) if len(self._current) else set()
        missing = [c for c in course_refs if c not in have]
        parts = [self._current[self._current["course_ref"].isin(list(course_refs))]]
        if missing:
            parts.append(self._client.fetch_current(missing, **options))
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def report_to_dict(report: DriftReport) -> dict[str, Any]:
    """The report as JSON-ready data (``reconcile drift --output json``)."""
    return {
        "canvas_url": report.canvas_url,
        "drifted": report.drifted,
        "courses": list(report.courses),
        "claimed": report.claimed,
        "not_compared": report.unknown,
        "unseen_courses": list(report.unseen_courses),
        "planned_with": list(report.planned_with),
        "counts": report.counts(),
        "items": [
            {
                "kind": i.kind,
                "course": i.course,
                "enrollment_id": i.enrollment_id,
                "user": i.user,
                "role": i.role,
                "section": i.section,
                "state": i.state,
                "changes": {name: {"left": a, "now": b} for name, (a, b) in i.changes.items()},
                "updated_at": i.updated_at,
                "created_at": i.created_at,
                "left_at": i.left_at,
                "left_by_run": i.left_by,
                "next_plan": i.next_plan,
            }
            for i in report.items
        ],
    }
