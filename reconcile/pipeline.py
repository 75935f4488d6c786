"""Orchestration around the pure planner: rosters + config + Canvas (or a snapshot) -> Plan.

Not pure: it reads roster and snapshot files and, unless given a snapshot, fetches the
current enrollments of the courses in scope through the Canvas client. ``reconcile plan``
calls it, and so does apply to re-plan (``--refresh``, ``--verify``, ``apply ROSTER...``).
Also home to the plan file's small I/O: :func:`save_plan` and :func:`load_plan`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.config import Config
from reconcile.frames import CURRENT_COLUMNS
from reconcile.inventory import ReportInventory, confirmed_scope
from reconcile.inventory import record as inventory_record
from reconcile.live import LiveState, check_rights, gather, users_named_twice
from reconcile.plan import Plan, PlanWarning, plan_from_json, plan_to_json
from reconcile.planner import build_plan
from reconcile.planner.ownership import Claims
from reconcile.planner.scope import decide_scope

log = logging.getLogger("reconcile.plan")

if TYPE_CHECKING:
    from reconcile.roster import RosterResult
    from reconcile.roster.problems import Problem


class RosterInvalid(Exception):
    """The rosters have errors; nothing was planned. ``problems`` lists every one (file, row,
    column). ``fetched`` is False when the errors were found before any network call, True
    when only Canvas's answer showed them (one course named two ways)."""

    def __init__(self, result: RosterResult, *, fetched: bool = False) -> None:
        self.result = result
        self.problems = result.errors
        self.fetched = fetched
        super().__init__(f"{len(self.problems)} problem(s) in the roster")


def make_plan(
    roster_paths: Sequence[str | Path],
    *,
    config: Config,
    client: Any = None,
    courses: Sequence[str] | None = None,
    current_snapshot: str | Path | None = None,
    roster_format: str | None = None,
    now: dt.datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    claims: Claims | None = None,
    on_current: Callable[[Any], None] | None = None,
    inventory: str | None = None,
) -> tuple[Plan, RosterResult]:
    """Load and validate the rosters, fetch the courses in scope, and plan.

    Raises :class:`RosterInvalid` before any network call when a roster has errors, and
    lets the Canvas client's errors (``reconcile.canvas.errors``) through. ``courses``
    restricts the plan to those course refs. With ``current_snapshot`` the plan is made
    against that saved state (its ``source`` says so) and Canvas is not contacted.
    ``client`` is used as given and left open; one made here from the environment
    (CANVAS_API_URL, CANVAS_API_TOKEN) is closed again. The claim set of that Canvas is read
    from the state dir (``claims`` overrides it; ``ClaimsError`` for a bad file), and
    ``on_current(frame)`` is given the current enrollments the plan was made against.
    ``inventory`` (courses | report | auto) overrides ``canvas.inventory`` for a live plan
    (:mod:`reconcile.inventory`).
    """
    from reconcile.roster import load_rosters

    result = load_rosters([str(p) for p in roster_paths], config=config, format=roster_format)
    if not result.ok:
        raise RosterInvalid(result)
    only = [_course_ref(c) for c in courses] if courses else None
    scope = decide_scope(result.desired, config, only_courses=only)
    log.info("roster: %d rows from %d input(s); %d course(s) in scope", len(result.desired), len(result.inputs),
             len(scope.courses))  # fmt: skip
    warnings = [_roster_warning(p) for p in result.warnings]
    if not result.complete:
        # a OneRoster delta lists changes only: a row it omits was not dropped
        config = dataclasses.replace(config, policy=dataclasses.replace(config.policy, drop="ignore"))
        warnings.append(
            PlanWarning(
                code="roster_is_delta",
                message="a roster input is a OneRoster delta, so enrollments absent from it are not dropped "
                "(policy.drop treated as ignore for this plan)",
            )
        )
    canvas_url = os.environ.get("CANVAS_API_URL") or config.canvas.url
    live = None
    if current_snapshot is not None:
        from reconcile.canvas.snapshot import read_snapshot

        current = read_snapshot(current_snapshot)
        source = f"snapshot:{current_snapshot}"
        present = set(current["course_ref"].dropna().unique().tolist())
        for course in scope.courses:
            if course not in present:
                warnings.append(
                    PlanWarning(
                        code="snapshot_missing_course",
                        message=f"the snapshot has no enrollments for {course}: every roster row of it is "
                        "planned as new; apply re-fetches it and refuses the plan if Canvas differs",
                        course=course,
                    )
                )
    else:
        own = client is None
        if own:
            from reconcile.canvas import CanvasClient

            client = CanvasClient.from_env(config.canvas)
        try:
            canvas_url = getattr(client, "base_url", None) or canvas_url
            known_claims = claims if claims is not None else _claims(config, canvas_url)
            taken = _inventory(client, result, scope, config, inventory, claims=known_claims, now=now)
            fetch_scope = confirmed_scope(scope, taken.report) if taken.report else scope
            desired = result.desired
            if taken.report:
                desired = desired[desired["course"].isin(list(fetch_scope.courses))].reset_index(drop=True)
            before = _requests(client)
            live = gather(
                client,
                desired,
                fetch_scope,
                custom_roles=config.roster.custom_roles,
                account=config.canvas.account_id,
                now=now,
                on_progress=on_progress,
                course_states=taken.report.states if taken.report else None,
            )
            log.info("fetched %d enrollment(s) of %d course(s) from %s", len(live.current),
                     len(fetch_scope.courses), canvas_url)  # fmt: skip
            record = inventory_record(
                taken.report,
                setting=taken.setting,
                confirm_requests=_requests(client) - before,
                fallback=taken.fallback,
            )
            if taken.report:
                live = _with_report_rows(live, taken.report)
            if on_current is not None:
                on_current(live.current)
            plan = _planned(result, live.current, config, live=live, now=now, canvas_url=canvas_url,
                            source="live", only=only, warnings=warnings + taken.warnings + live.warnings,
                            claims=known_claims, inventory=record,
                            confirmed=fetch_scope.courses if taken.report else None)  # fmt: skip
            return check_rights(client, plan, config), result
        finally:
            if own:
                client.close()
    if on_current is not None:
        on_current(current)
    plan = _planned(result, current, config, live=None, now=now, canvas_url=canvas_url, source=source,
                    only=only, warnings=warnings, fetched=False,
                    claims=claims if claims is not None else _claims(config, canvas_url))  # fmt: skip
    return plan, result


@dataclasses.dataclass
class _Taken:
    setting: str  # what was asked for: courses | report | auto
    report: ReportInventory | None = None
    fallback: str | None = None
    warnings: list[PlanWarning] = dataclasses.field(default_factory=list)


def _inventory(
    client: Any, result: RosterResult, scope: Any, config: Config, asked: str | None, *, claims: Any, now: Any
) -> _Taken:
    """The report phase of a ``report`` plan (or ``auto`` over enough courses), else nothing."""
    from reconcile import inventory

    setting = asked or config.canvas.inventory
    mode = inventory.mode_for(setting, scope, report_above=config.canvas.report_above)
    if mode != "report" or not hasattr(client, "transport") or not scope.courses:
        return _Taken(setting=setting)
    try:
        report = inventory.take(client, result.desired, scope, config, claims=claims, now=now)
    except inventory.InventoryUnavailable as exc:
        if setting == "report":
            raise
        return _Taken(
            setting=setting,
            fallback=str(exc),
            warnings=[
                PlanWarning(
                    code="inventory_report_unavailable",
                    message=f"every course was fetched one by one, because the provisioning report could "
                    f"not be used: {exc}",
                )
            ],
        )
    return _Taken(setting=setting, report=report)


def _requests(client: Any) -> int:
    stats = getattr(client, "stats", None)
    return int(getattr(stats, "requests", 0) or 0)


def _with_report_rows(live: LiveState, report: ReportInventory) -> LiveState:
    """``live`` with the report's rows of the courses it shows in sync, and every course's dates."""
    import pandas as pd

    from reconcile.frames import conform

    rows = conform(report.rows, CURRENT_COLUMNS)
    live.current = pd.concat([live.current, rows], ignore_index=True) if len(rows) else live.current
    # the in-sync courses' observer rows were marked from the report's links; the planner needs
    # those links too, to leave alone the roster rows they provide, as a courses plan does
    live.links = live.links | report.links
    if report.course_dates is not None:
        live.course_dates = report.course_dates
    return live


def _claims(config: Config, canvas_url: str | None) -> Claims:
    """The claim set of that Canvas in the state dir, as planner input (with the last-left
    states ``policy.drift`` needs)."""
    from reconcile.apply.ownership import load_claims

    return load_claims(
        config.state_dir, canvas_url=canvas_url, account=config.canvas.account_id, drift=config.policy.drift
    )


def _planned(
    result: RosterResult,
    current: Any,
    config: Config,
    *,
    live: LiveState | None,
    now: dt.datetime | None,
    canvas_url: str | None,
    source: str,
    only: list[str] | None,
    warnings: list[PlanWarning],
    fetched: bool = True,
    claims: Claims | None = None,
    inventory: dict[str, Any] | None = None,
    confirmed: Sequence[str] | None = None,
) -> Plan:
    """The plan of ``result`` against ``current``, after the checks only Canvas's answer makes
    possible (one course or user named two ways; rows no section can take)."""
    # rows of a cross-listed section carry their current course's id under the roster's course ref
    own_rows = current[~current["course_section_id"].isin(list(live.crosslisted))] if live else current
    problems = _same_course_named_twice(own_rows, result.desired)
    if live is not None:
        problems += tuple(live.problems) + users_named_twice(result.desired, current, live.lookups.user_ids)
    if problems:
        raise RosterInvalid(dataclasses.replace(result, problems=result.problems + problems), fetched=fetched)
    plan = build_plan(
        result.desired,
        current,
        config,
        now=now or dt.datetime.now(dt.timezone.utc),
        inputs=result.inputs,
        canvas_url=canvas_url,
        source=source,
        only_courses=only,
        extra_warnings=warnings,
        lookups=live.lookups if live else None,
        course_dates=live.course_dates if live else None,
        section_dates=live.section_dates if live else None,
        observer_links=live.links if live else frozenset(),
        fetched_with=live.fetched_with if live else None,
        placement=live.placement if live else None,
        claims=claims,
        extra_policy={"inventory": inventory} if inventory else None,
    )
    if confirmed is not None:
        plan = only_confirmed(plan, confirmed)
    log.info("planned %d operation(s), %d warning(s)", len(plan.operations), len(plan.warnings))
    return plan


def only_confirmed(plan: Plan, confirmed: Sequence[str]) -> Plan:
    """A report-inventory plan keeps the fingerprints of the courses it fetched one by one only
    (the report's rows have no updated_at to fingerprint). An operation in a course it did not
    fetch would rest on the report alone: that is a bug, never a plan to apply."""
    from reconcile.planner.core import _with_id

    kept = set(confirmed)
    stray = sorted({op.target.course for op in plan.operations} - kept)
    if stray:
        raise RuntimeError(f"a report-inventory plan planned operations in unconfirmed course(s) {stray}")
    fingerprints = {c: h for c, h in plan.fingerprints.items() if c in kept}
    return _with_id(dataclasses.replace(plan, fingerprints=fingerprints))


def _same_course_named_twice(current: Any, desired: Any) -> tuple[Problem, ...]:
    """One error per extra name of a course that the roster gives two ways (an SIS id and
    ``canvas:N``, say). Each name would be planned on its own, so the rows under one name
    would look absent from the other and be dropped; only Canvas's ids show the two are one."""
    from reconcile.roster.problems import Problem

    pairs = current[["course_id", "course_ref"]].dropna().drop_duplicates()
    names = pairs.groupby("course_id")["course_ref"].agg(list)
    names = names[names.map(len) > 1]
    if names.empty:
        return ()
    first_rows = desired.drop_duplicates("course").set_index("course")
    order = {ref: position for position, ref in enumerate(first_rows.index)}
    problems = []
    for course_id, refs in names.items():
        kept, *others = sorted(refs, key=lambda ref: order.get(ref, len(order)))
        kept_at = _first_row(first_rows, kept)
        for ref in others:
            at = _first_row(first_rows, ref)
            problems.append(
                Problem(
                    severity="error",
                    file=at[0] if at else "manage.courses",
                    row=at[1] if at else None,
                    column=None,
                    code="course_named_twice",
                    message=f"{_shown(ref)} and {_shown(kept)} ({':'.join(kept_at) if kept_at else 'manage.courses'})"
                    f" are the same Canvas course (id {course_id}); "
                    "name each course one way, or the rows under one name look absent from the other "
                    "and are dropped",
                )
            )
    return tuple(problems)


def _shown(ref: str) -> str:
    """A course ref as a roster spells it: ``canvas:101`` rather than the bare id."""
    from reconcile.ids import is_numeric

    return f"canvas:{ref}" if is_numeric(ref) else ref


def _first_row(first_rows: Any, ref: str) -> tuple[str, str] | None:
    """(file, row) of the roster's first row naming ``ref``; None for a course from manage.courses."""
    if ref not in first_rows.index:
        return None
    row = first_rows.loc[ref]
    return str(row["origin_file"]), str(row["origin_row"])


def scope_courses(
    result: RosterResult, config: Config, *, courses: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The course refs a plan over ``result`` would fetch (roster courses + manage.courses, or ``courses``)."""
    only = [_course_ref(c) for c in courses] if courses else None
    return decide_scope(result.desired, config, only_courses=only).courses


def save_plan(plan: Plan, path: str | Path) -> None:
    """Write the plan document to ``path`` atomically (a reader never sees half a plan)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(plan_to_json(plan))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_plan(text: str) -> Plan:
    """Parse, validate and verify a saved plan (DESIGN §7: a reviewed document, not a script).

    Raises ``PlanFormatError`` for a document that is not a plan of this format, and its
    subclass ``PlanTampered`` for one whose requests, ids or structure do not follow from
    its content (see :mod:`reconcile.planner.verify`)."""
    from reconcile.planner.verify import verify_plan

    plan = plan_from_json(text)
    verify_plan(plan)
    return plan


def load_plan(path: str | Path) -> Plan:
    """:func:`read_plan` of a file; raises ``PlanFormatError`` (or OSError) with a clear message."""
    return read_plan(Path(path).read_text(encoding="utf-8"))


def _course_ref(value: str) -> str:
    """A course as given on the command line (SIS id, ``canvas:N``, N or a full ref) -> ref."""
    from reconcile import ids

    text = value.strip()
    if (
        ids.is_numeric(text)
        or ":" in text
        and text.split(":", 1)[0] in ("sis_course_id", "sis_integration_id")
    ):
        return text
    return ids.course_ref(text)


def _roster_warning(problem: Any) -> PlanWarning:
    origin = (f"{problem.file}:{problem.row}",) if problem.row else (str(problem.file),)
    return PlanWarning(code=str(problem.code), message=str(problem), origin=origin)
