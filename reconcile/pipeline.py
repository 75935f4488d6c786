"""Orchestration around the pure planner: rosters + config + Canvas (or a snapshot) -> Plan.

Not pure: it reads roster and snapshot files and, unless given a snapshot, fetches the
current enrollments of the courses in scope through the Canvas client. ``reconcile plan``
calls it, and so does apply to re-plan (``--refresh``, ``--verify``, ``apply ROSTER...``).
Also home to the plan file's small I/O: :func:`save_plan` and :func:`load_plan`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.config import Config
from reconcile.plan import Plan, PlanWarning, plan_from_json, plan_to_json
from reconcile.planner import build_plan
from reconcile.planner.scope import decide_scope

if TYPE_CHECKING:
    from reconcile.roster import RosterResult


class RosterInvalid(Exception):
    """The rosters have errors; nothing was fetched. ``problems`` lists every one (file, row, column)."""

    def __init__(self, result: RosterResult) -> None:
        self.result = result
        self.problems = result.errors
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
) -> tuple[Plan, RosterResult]:
    """Load and validate the rosters, fetch the courses in scope, and plan.

    Raises :class:`RosterInvalid` before any network call when a roster has errors, and
    lets the Canvas client's errors (``reconcile.canvas.errors``) through. ``courses``
    restricts the plan to those course refs. With ``current_snapshot`` the plan is made
    against that saved state (its ``source`` says so) and Canvas is not contacted.
    ``client`` is used as given and left open; one made here from the environment
    (CANVAS_API_URL, CANVAS_API_TOKEN) is closed again.
    """
    from reconcile.roster import load_rosters

    result = load_rosters([str(p) for p in roster_paths], config=config, format=roster_format)
    if not result.ok:
        raise RosterInvalid(result)
    only = [_course_ref(c) for c in courses] if courses else None
    scope = decide_scope(result.desired, config, only_courses=only)
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
            current = client.fetch_current(list(scope.courses), on_progress=on_progress)
            canvas_url = getattr(client, "base_url", None) or canvas_url
        finally:
            if own:
                client.close()
        source = "live"
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
    )
    return plan, result


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


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; raises ``PlanFormatError`` (or OSError) with a clear message."""
    return plan_from_json(Path(path).read_text(encoding="utf-8"))


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
