"""Where a live plan takes its inventory of Canvas from: course by course, or the account's
provisioning report first (``canvas.inventory: courses | report | auto``). Not pure: it calls
the client.

A nightly account-wide sync spends nearly all its requests confirming that nothing changed
in most courses: Σ⌈n/100⌉ list requests, under a throttle of about ten cost units a second.
Canvas's provisioning report (facts §14.6, :mod:`reconcile.canvas.report`) lists the whole
account's enrollments in one job. It is not exact enough to act on (no dates, no updated_at,
invited and creation_pending under one name, a row per login, cross-listed sections under the
course they came from), so it only decides which courses need looking at:

1. the account's course list (which the plan reads anyway for course states) maps each roster
   course to its Canvas id; the report (enrollments, cross-listings and observer links) is
   started, polled and read;
2. a course the report cannot decide is *confirmed*: one not in the account's list, one whose
   roster rows manage dates or last-attended, one where the roster wants invited a user the
   report shows active (the enrollment's dates decide that), an enrollment the report shows
   under several logins (older Canvas), or a section cross-listed into or out of it;
3. every other course is planned, by the real planner, against its report rows (observer rows
   a link keeps marked from the report's links, when observers are in scope); a course that
   gets any operation is confirmed too;
4. the confirmed courses are fetched through the Enrollments API exactly as a ``courses`` plan
   fetches them (:func:`reconcile.live.gather`), and every operation and every fingerprint of
   the plan comes from that data. The courses the report showed in sync get no operation, no
   fingerprint and no request of their own; their report rows still count in the plan's
   guards and summary, as a ``courses`` plan would count them.

The plan records it all under ``policy.inventory``: the source of its state, the report's id,
how many courses were confirmed and why, and the requests each phase made.

Known limit, from the report's query: an enrollment of a user with no login in the root
account is not in the report. In a course the report shows in sync, such a row is not seen,
so a ``courses`` plan would drop it (if the roster leaves it out) where a ``report`` plan
does not; use ``courses`` where users without a login are enrolled.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reconcile.canvas.errors import CanvasError
from reconcile.frames import CURRENT_COLUMNS
from reconcile.planner.scope import Scope

log = logging.getLogger("reconcile.plan")

MODES = ("courses", "report", "auto")


@dataclass
class ReportInventory:
    """What the report phase found (see the module docstring)."""

    report_id: int
    confirm: dict[str, str]  # course ref -> why it is fetched course by course
    in_sync: tuple[str, ...]  # courses the report shows in sync
    rows: pd.DataFrame  # CURRENT_COLUMNS: the report's rows of the in-sync courses
    course_dates: pd.DataFrame | None = None
    states: dict[str, Any] = field(default_factory=dict)  # course ref -> CourseState, for the confirm phase
    links: frozenset[tuple[int, int]] = frozenset()  # active observer links, when observers are in scope
    requests: dict[str, int] = field(default_factory=dict)


class InventoryUnavailable(CanvasError):
    """The report cannot be had (no rights, not an account admin, a failed job); the message
    says why. ``auto`` falls back to ``courses`` with a warning; ``report`` fails with it."""


def mode_for(setting: str, scope: Scope, *, report_above: int) -> str:
    """``courses`` or ``report`` for a plan of ``scope`` under ``canvas.inventory``: ``auto``
    takes the report when the roster spans more than ``report_above`` courses."""
    if setting == "auto":
        return "report" if len(scope.courses) > report_above else "courses"
    return setting


def take(
    client: Any,
    desired: pd.DataFrame,
    scope: Scope,
    config: Any,
    *,
    claims: Any = None,
    now: Any = None,
    on_status: Callable[[str, int], None] | None = None,
) -> ReportInventory:
    """Phases 1-3 of the module docstring: which courses to confirm, and the report's rows of the others."""
    from reconcile.canvas import errors
    from reconcile.canvas import lookups as canvas_lookups
    from reconcile.canvas.report import (
        ReportError,
        mark_linked,
        parse_enrollments,
        parse_links,
        parse_xlist,
        run_provisioning,
    )
    from reconcile.live import course_dates_frame, observers_in_scope

    before = client.stats.requests
    account = config.canvas.account_id
    states = canvas_lookups.course_states(client, list(scope.courses), account=account)
    listed = client.stats.requests
    try:
        report = run_provisioning(client, account, timeout=config.canvas.report_timeout, on_status=on_status)
    except (errors.Unauthorized, errors.Forbidden, errors.NotFound) as exc:
        raise InventoryUnavailable(
            f"the account's provisioning report cannot be run with this token ({exc}); it needs an "
            "account admin who may run reports"
        ) from None
    except ReportError as exc:
        raise InventoryUnavailable(str(exc)) from None
    source = f"provisioning report {report.id}"
    rows = parse_enrollments(report.files["enrollments"], source=source)
    xlist = parse_xlist(report.files["xlist"], source=source)
    links: frozenset[tuple[int, int]] = frozenset()
    if observers_in_scope(scope, config.roster.custom_roles):  # as a courses plan reads links
        links = parse_links(report.files["user_observers"], source=source)
    ids = {ref: state.id for ref, state in states.items()}
    confirm = _undecidable(desired, scope, ids, rows, xlist)
    rows = mark_linked(_assigned(rows, ids), links)
    decidable = [c for c in scope.courses if c not in confirm]
    course_dates = course_dates_frame(states)
    changed = _changed(
        desired, rows, decidable, config, claims=claims, now=now, course_dates=course_dates, links=links
    )
    for course in changed:
        confirm[course] = "the report shows a difference"
    in_sync = tuple(c for c in scope.courses if c not in confirm)
    kept = rows[rows["course_ref"].isin(list(in_sync))].drop_duplicates("id")
    counts = {"course_list": listed - before, "report": client.stats.requests - listed}
    log.info("inventory from %s: %d course(s) in sync by the report, %d to confirm course by course "
             "(%d request(s) so far)", source, len(in_sync), len(confirm), sum(counts.values()))  # fmt: skip
    return ReportInventory(
        report_id=report.id,
        confirm={c: confirm[c] for c in scope.courses if c in confirm},
        in_sync=in_sync,
        rows=kept[list(CURRENT_COLUMNS)].reset_index(drop=True),
        course_dates=course_dates,
        states=states,
        links=links,
        requests=counts,
    )


def _undecidable(
    desired: pd.DataFrame,
    scope: Scope,
    ids: dict[str, int],
    rows: pd.DataFrame,
    xlist: pd.DataFrame,
) -> dict[str, str]:
    """Course ref -> why the report cannot decide it (rule 2 of the module docstring)."""
    reasons: dict[str, str] = {}
    for course in scope.courses:
        if course not in ids:
            reasons[course] = "not in the account's course list"
    roster = desired[desired["course"].isin(list(scope.courses))]
    for column, why in (
        ("dates_managed", "the roster manages dates, which the report does not show"),
        ("last_attended_managed", "the roster manages last-attended, which the report does not show"),
    ):
        for course in roster.loc[roster[column].fillna(False).astype(bool), "course"].unique().tolist():
            reasons.setdefault(str(course), why)
    by_id = {course_id: ref for ref, course_id in ids.items()}
    in_scope = rows[rows["course_id"].isin(list(by_id))]
    checks = (
        (_invited_but_active(roster, in_scope, by_id), INVITED_ACTIVE),
        (in_scope["id"].duplicated(keep=False), "the report shows an enrollment under several logins"),
    )
    for mask, why in checks:
        for course_id in in_scope.loc[mask.fillna(False).to_numpy(dtype=bool), "course_id"].unique().tolist():
            reasons.setdefault(by_id[int(course_id)], why)
    for column in ("course_id", "nonxlist_course_id"):
        for course_id in xlist[column].dropna().unique().tolist():
            if int(course_id) in by_id:
                reasons.setdefault(by_id[int(course_id)], "a section is cross-listed into or out of it")
    return reasons


INVITED_ACTIVE = (
    "the roster wants invited where the report shows active (only the enrollment's dates, which the "
    "report does not show, tell whether it can be)"
)


def _invited_but_active(roster: pd.DataFrame, rows: pd.DataFrame, by_id: dict[int, str]) -> pd.Series:
    """Report rows that are active where the roster wants the same user invited in that course.

    The one place where an enrollment's own dates decide whether there is an operation at all
    (rules table: invited x active is a restore while the row is not yet active by date, else
    nothing). invited and creation_pending, which the report does not tell apart, are planned
    alike everywhere, so they need no confirming."""
    invited = roster[roster["status"] == "invited"]
    if invited.empty or rows.empty:
        return pd.Series(False, index=rows.index)
    wanted: set[tuple[str, str]] = set()
    for course, user in zip(invited["course"].astype(str), invited["user"].astype(str), strict=True):
        column, _, value = user.partition(":")
        wanted.add((course, value if column == "sis_user_id" else user))
    refs = rows["course_id"].map(by_id).astype(str)
    by_sis = pd.Series(list(zip(refs, rows["sis_user_id"].astype(str), strict=True)), index=rows.index)
    by_canvas = pd.Series(list(zip(refs, rows["user_id"].astype(str), strict=True)), index=rows.index)
    named = by_sis.isin(wanted) | by_canvas.isin(wanted)
    return named & (rows["state"] == "active")


def _assigned(rows: pd.DataFrame, ids: dict[str, int]) -> pd.DataFrame:
    """The report's rows of the roster's courses, each under the ref the roster names its course by."""
    by_id = {course_id: ref for ref, course_id in ids.items()}
    kept = rows[rows["course_id"].isin(list(by_id))].copy()
    kept["course_ref"] = kept["course_id"].map(by_id).astype("string")
    return kept.reset_index(drop=True)


def _changed(
    desired: pd.DataFrame,
    rows: pd.DataFrame,
    courses: Sequence[str],
    config: Any,
    *,
    claims: Any,
    now: Any,
    course_dates: pd.DataFrame | None,
    links: frozenset[tuple[int, int]] = frozenset(),
) -> list[str]:
    """The courses of ``courses`` whose report rows the planner would change (rule 3).

    The plan made here is thrown away: it only names courses. Without lookups a roster user
    no row shows is planned as an enroll, so such a course is confirmed, never assumed."""
    import datetime as dt

    from reconcile.planner import build_plan

    if not courses:
        return []
    plan = build_plan(
        desired[desired["course"].isin(list(courses))],
        rows[rows["course_ref"].isin(list(courses))].drop_duplicates("id")[list(CURRENT_COLUMNS)],
        config,
        now=now or dt.datetime.now(dt.timezone.utc),
        only_courses=courses,
        course_dates=course_dates,
        claims=claims,
        observer_links=links,
    )
    return sorted({op.target.course for op in plan.operations})


def confirmed_scope(scope: Scope, inventory: ReportInventory) -> Scope:
    """``scope`` narrowed to the courses to fetch course by course."""
    return dataclasses.replace(scope, courses=tuple(c for c in scope.courses if c in inventory.confirm))


def record(inventory: ReportInventory | None, *, setting: str, confirm_requests: int = 0,
           fallback: str | None = None) -> dict[str, Any]:  # fmt: skip
    """What the plan says of its inventory (``policy.inventory``): where its state came from and the
    requests of each phase (``confirm_requests``: those of the course-by-course reads)."""
    if inventory is None:
        out: dict[str, Any] = {
            "source": "courses",
            "setting": setting,
            "requests": {"courses": confirm_requests},
        }
        if fallback:
            out["report_unavailable"] = fallback
        return out
    why: dict[str, int] = {}
    for reason in inventory.confirm.values():
        why[reason] = why.get(reason, 0) + 1
    return {
        "source": "report",
        "setting": setting,
        "report_id": inventory.report_id,
        "courses_confirmed": len(inventory.confirm),
        "courses_in_sync_by_report": len(inventory.in_sync),
        "confirmed_because": dict(sorted(why.items())),
        "requests": {**inventory.requests, "confirm": confirm_requests},
    }
