"""``apply_plan``: guards → lock → stale check → execute (journaled) → optional verify (DESIGN §7).

The refusals are exceptions the CLI maps to exit codes: :class:`LockHeld` (6),
:class:`StalePlan` (4), :class:`GuardTripped` (3), :class:`WrongCanvas` (1),
:class:`RefreshDeclined`, :class:`PlanMismatch` and :class:`StateDirUnusable` (1). A plan made for another Canvas, and a plan whose guards trip
without an override, are refused before the lock and before any network call: a guarded
plan must exit 3 at once even when Canvas is down. A finished run, with or without failed
or held operations, is an :class:`ApplyResult`.

``hold_drops``: when the plan's guards trip, every operation that is not a counted removal
(:func:`reconcile.plan.is_removal`) runs and the removals are journaled as *held*; applying
the same plan later with ``allow_drops`` runs only what is still to do. ``refresh``: a plan
that went stale is re-planned, and the new plan is a new review: ``confirm_refresh(old,
new)`` is called before anything runs (the CLI shows the difference and asks), and the run
records both plan ids.
"""

from __future__ import annotations

import dataclasses
import importlib
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from reconcile.apply import journal as jr
from reconcile.apply import ownership, stale
from reconcile.apply.executor import Aborted, Executor, Outcome, ProgressCallback, Sender
from reconcile.apply.lock import (
    ApplyLock,
    LockHeld,
    RunMarker,
    StateDirUnusable,
    marker_path,
    run_alive,
    who,
)
from reconcile.config import Config
from reconcile.plan import GuardResult, Operation, Plan, is_removal

__all__ = [
    "ApplyResult",
    "GuardTripped",
    "LockHeld",
    "PlanMismatch",
    "RefreshDeclined",
    "StalePlan",
    "StateDirUnusable",
    "WrongCanvas",
    "apply_plan",
]


class Client(Sender, Protocol):
    """What apply needs from the Canvas client: send requests, fetch current state."""

    def fetch_current(self, course_refs: Sequence[str]) -> pd.DataFrame:
        """Every enrollment of those courses, in every state (frames.CURRENT_COLUMNS)."""
        ...


Replanner = Callable[[Sequence[str] | None], Plan]


class StalePlan(Exception):
    """Canvas changed since the plan was made, in these courses (or, ``claims``, the claim set
    a ``manage.ownership: claimed`` plan rests on changed)."""

    def __init__(self, courses: Sequence[str], *, run_id: str, claims: bool = False) -> None:
        self.courses = tuple(courses)
        self.run_id = run_id
        self.claims = claims
        where = ", ".join(self.courses) if self.courses else "no course"
        super().__init__(
            f"plan is stale: Canvas changed in {where}" + ("; the claim set changed" if claims else "")
        )


class GuardTripped(Exception):
    """The plan trips safety guards and ``allow_drops`` was not given."""

    def __init__(self, guards: Sequence[GuardResult], *, run_id: str) -> None:
        self.guards = tuple(guards)
        self.run_id = run_id
        super().__init__("; ".join(g.message or g.name for g in self.guards))


class WrongCanvas(Exception):
    """The plan was made against a different Canvas than the one configured."""


class RefreshDeclined(Exception):
    """``--refresh`` re-planned and the person (or the lack of ``--auto-approve``) said no."""


class PlanMismatch(Exception):
    """The plan's enrollment ids are not those of its targets in Canvas (an edited plan
    whose hashes were recomputed); refused before any write."""

    def __init__(self, problems: Sequence[str], *, run_id: str) -> None:
        self.problems = tuple(problems)
        self.run_id = run_id
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class ApplyResult:
    """How a run went. ``exit_code`` follows reconcile.exitcodes."""

    run_id: str
    plan: Plan  # the plan executed (the refreshed one after --refresh)
    outcomes: tuple[Outcome, ...]
    wall_seconds: float
    resumed: bool
    refreshed: bool
    allow_drops: bool
    reviewed_plan_id: str | None = None  # the plan that was reviewed, when --refresh replaced it
    hold_drops: bool = False
    aborted: str | None = None  # why the run stopped early, if it did
    remaining: tuple[Operation, ...] | None = None  # --verify: what a re-plan still finds
    client_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == jr.FAILED)

    @property
    def skipped(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == jr.SKIPPED)

    @property
    def held(self) -> tuple[Outcome, ...]:
        """Removals held back by ``--hold-drops`` because the plan's guards tripped."""
        return tuple(o for o in self.outcomes if o.status == jr.HELD)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{action: {outcome: n}}`` where outcome is applied, already_held, done_earlier, verified, failed, skipped."""
        table: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            key = o.how if o.status == jr.DONE else o.status
            table.setdefault(o.operation.action.value, Counter())[key] += 1
        return {action: dict(sorted(c.items())) for action, c in sorted(table.items())}

    @property
    def exit_code(self) -> int:
        from reconcile import exitcodes

        if self.aborted is not None:  # a refused token or an interruption, not an operation's fault
            return exitcodes.ERROR
        if self.failures or self.skipped or self.remaining:
            return exitcodes.FAILED_OPERATIONS
        if self.held:  # the guards still stand between these removals and Canvas
            return exitcodes.GUARD
        return exitcodes.OK


def fingerprint(current: pd.DataFrame, courses: Sequence[str]) -> dict[str, str]:
    """The planner's per-course fingerprint of ``current`` (the one stored in plans)."""
    # Imported late: the planner is only needed once a plan is actually checked.
    planner = importlib.import_module("reconcile.planner.fingerprint")
    result: dict[str, str] = planner.fingerprint(current, courses=courses)
    return result


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def _client_stats(client: Any) -> dict[str, Any]:
    stats = getattr(client, "stats", None)
    if stats is None:
        return {}
    if callable(stats):
        stats = stats()
    if isinstance(stats, dict):
        return dict(stats)
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    try:
        return dict(vars(stats))
    except TypeError:
        return {}


def apply_plan(
    plan: Plan,
    *,
    client: Client,
    config: Config,
    canvas_url: str | None = None,
    state_dir: str | Path | None = None,
    parallelism: int | None = None,
    allow_drops: bool = False,
    hold_drops: bool = False,
    refresh: bool = False,
    verify: bool = False,
    lock_timeout: float = 0,
    replan: Replanner | None = None,
    confirm_refresh: Callable[[Plan, Plan], None] | None = None,
    on_start: Callable[[Plan, int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> ApplyResult:
    """Apply exactly ``plan`` (or, with ``refresh`` and a stale plan, a fresh one, once
    ``confirm_refresh(plan, fresh)`` returned; it raises :class:`RefreshDeclined` to stop).

    ``replan(courses)`` must return a new plan from the plan's roster inputs (all courses
    when ``courses`` is None); it is needed for ``refresh`` and ``verify`` only.
    ``on_start(plan, n)`` is called once execution begins with ``n`` operations.
    Raises WrongCanvas and GuardTripped before any network call, then LockHeld, StalePlan
    or RefreshDeclined before any write.
    """
    # The client's own base URL is what requests go to; config and env may spell it differently.
    url = canvas_url or getattr(client, "base_url", None) or config.canvas.url
    if plan.canvas_url and url and plan.canvas_url.rstrip("/") != url.rstrip("/"):
        raise WrongCanvas(f"the plan was made for {plan.canvas_url}, but Canvas is configured as {url}")
    if (refresh or verify) and replan is None:
        raise ValueError("refresh and verify need a replan function")
    if refresh and confirm_refresh is None:
        raise ValueError("refresh needs confirm_refresh: a re-planned plan is a new review")
    directory = Path(state_dir if state_dir is not None else config.state_dir)
    overridden = allow_drops or hold_drops
    if plan.tripped_guards and not overridden:
        # Refuse before the lock and before any network call: nothing below could change the answer.
        run_id = new_run_id()
        with _open_journal(directory) as journal:
            _refuse(
                journal,
                run_id,
                plan,
                url,
                {"allow_drops": False, "hold_drops": False, "refresh": refresh, "verify": verify},
                outcome="guard",
                message="; ".join(g.name for g in plan.tripped_guards),
            )
        raise GuardTripped(plan.tripped_guards, run_id=run_id)
    lock_dir = Path(config.lock.path) if config.lock.path else directory  # lock.path: shared by runners
    lock = ApplyLock(lock_dir, canvas_url=url or plan.canvas_url, account=config.canvas.account_id)
    lock.acquire(timeout=lock_timeout, plan_id=plan.plan_id)
    run_id = new_run_id()
    marker = RunMarker(directory, run_id)  # held while this run lives: see reconcile.apply.lock
    started = time.monotonic()
    try:
        marker.hold()
        with _open_journal(directory) as journal:
            return _apply_locked(
                plan,
                run_id=run_id,
                client=client,
                config=config,
                journal=journal,
                url=url,
                parallelism=parallelism or config.canvas.concurrency,
                allow_drops=allow_drops,
                hold_drops=hold_drops,
                refresh=refresh,
                verify=verify,
                replan=replan,
                confirm_refresh=confirm_refresh,
                on_start=on_start,
                on_progress=on_progress,
                started=started,
            )
    finally:
        marker.release()
        lock.release()


def _open_journal(directory: Path) -> jr.Journal:
    try:
        return jr.Journal.in_state_dir(directory)
    except (OSError, sqlite3.Error) as exc:
        raise StateDirUnusable(directory, str(exc)) from exc


def _apply_locked(
    plan: Plan,
    *,
    run_id: str,
    client: Client,
    config: Config,
    journal: jr.Journal,
    url: str | None,
    parallelism: int,
    allow_drops: bool,
    hold_drops: bool,
    refresh: bool,
    verify: bool,
    replan: Replanner | None,
    confirm_refresh: Callable[[Plan, Plan], None] | None,
    on_start: Callable[[Plan, int], None] | None,
    on_progress: ProgressCallback | None,
    started: float,
) -> ApplyResult:
    overrides: dict[str, Any] = {
        "allow_drops": allow_drops,
        "hold_drops": hold_drops,
        "refresh": refresh,
        "verify": verify,
        "parallelism": parallelism,
    }
    refreshed = False
    reviewed = plan
    in_effect: dict[str, dict[str, Any]] = {}  # operations another run of this plan already applied
    while True:
        courses = stale.touched_courses(plan)
        records = journal.operations(plan.plan_id)
        baseline = journal.baseline(plan.plan_id)
        resumed = baseline is not None and any(
            r.status in (jr.STARTED, jr.DONE, jr.FAILED) for r in records.values()
        )
        current = _fetch(client, plan, courses) if courses else None
        changed: list[str] = []
        if current is not None:
            if resumed and baseline is not None:
                changed = stale.changed_since_baseline(plan, current, baseline, records)
            else:
                changed = stale.changed_since_plan(plan, fingerprint(current, courses), courses)
                if changed:  # unless it is this very plan, applied from another state dir
                    in_effect, changed = _applied_elsewhere(plan, current, changed)
        claims_changed = ownership.claims_changed(
            plan,
            state_dir=journal.path.parent,
            canvas_url=url or plan.canvas_url,
            account=config.canvas.account_id,
        )
        if not changed and not claims_changed:
            break
        if refresh and not refreshed and replan is not None and confirm_refresh is not None:
            fresh = replan(None)
            try:
                confirm_refresh(plan, fresh)  # a new plan is a new review
            except RefreshDeclined as exc:
                overrides["reviewed_plan_id"] = reviewed.plan_id
                _refuse(journal, run_id, fresh, url, overrides, outcome="declined", message=str(exc))
                raise
            plan = fresh
            refreshed = True
            overrides["reviewed_plan_id"] = reviewed.plan_id
            continue  # the fresh plan goes through the same check, then the guards
        message = f"changed: {', '.join(changed)}" if changed else "the claim set changed"
        _refuse(journal, run_id, plan, url, overrides, outcome="stale", message=message)
        raise StalePlan(changed, run_id=run_id, claims=claims_changed)

    foreign = stale.foreign_operations(plan, current) if current is not None else []
    if foreign:
        _refuse(journal, run_id, plan, url, overrides, outcome="refused", message=foreign[0])
        raise PlanMismatch(foreign, run_id=run_id)
    tripped = plan.tripped_guards
    if tripped and not (allow_drops or hold_drops):  # only a refreshed plan can get here
        _refuse(
            journal, run_id, plan, url, overrides, outcome="guard", message="; ".join(g.name for g in tripped)
        )
        raise GuardTripped(tripped, run_id=run_id)
    hold = (
        frozenset(op.id for op in plan.operations if is_removal(op))
        if tripped and not allow_drops
        else frozenset()
    )
    if current is not None and not resumed:
        journal.save_baseline(plan.plan_id, stale.row_digests(current, courses))

    overrides["refreshed"] = refreshed
    overrides["guards_overridden"] = [g.name for g in tripped] if allow_drops else []
    overrides["held"] = len(hold)
    overrides.update(_close_dead_runs(journal, records))
    journal.start_run(
        run_id, plan_id=plan.plan_id, canvas_url=url or plan.canvas_url, who=who(), overrides=overrides
    )
    executor = Executor(
        plan,
        sender=client,
        journal=journal,
        run_id=run_id,
        parallelism=parallelism,
        account=config.canvas.account_id,
        on_progress=on_progress,
        hold=hold,
        in_effect=in_effect,
        course_gate=_course_gate(plan, client, fingerprint(current, courses) if current is not None else {}),
    )
    ownership.before_run(plan, journal)
    if on_start is not None:
        on_start(plan, len(plan.operations))
    aborted: str | None = None
    try:
        outcomes = executor.run()
    except Aborted as exc:
        aborted = str(exc)
        outcomes = executor.outcomes
    except BaseException:
        journal.end_run(run_id, outcome="crashed", counts={}, message="unexpected error")
        raise
    claims_note: str | None = None
    try:  # claim what the run created and matched (DESIGN §4); the writes above stand either way
        ownership.after_run(
            plan,
            journal=journal,
            state_dir=journal.path.parent,
            canvas_url=url or plan.canvas_url,
            account=config.canvas.account_id,
            run_id=run_id,
            fetched=current,
            fetched_courses=courses,
            client=client,
            finished=aborted is None,
        )
    except Exception as exc:  # noqa: BLE001 - noted in the journal; the run's outcome stands
        claims_note = f"claims not recorded: {exc}"
    remaining: tuple[Operation, ...] | None = None
    if verify and aborted is None and replan is not None:
        remaining = replan(stale.touched_courses(plan) or None).operations
    result = ApplyResult(
        run_id=run_id,
        plan=plan,
        outcomes=tuple(outcomes),
        wall_seconds=time.monotonic() - started,
        resumed=resumed,
        refreshed=refreshed,
        allow_drops=allow_drops,
        reviewed_plan_id=reviewed.plan_id if refreshed else None,
        hold_drops=hold_drops,
        aborted=aborted,
        remaining=remaining,
        client_stats=_client_stats(client),
    )
    outcome = (
        "aborted"
        if aborted
        else "failed"
        if result.failures or result.skipped or result.remaining
        else "held"
        if result.held
        else "ok"
    )
    journal.end_run(run_id, outcome=outcome, counts=result.counts(), message=aborted or claims_note)
    return result


def _fetch(client: Client, plan: Plan, courses: Sequence[str]) -> pd.DataFrame:
    """The touched courses fetched the way the plan's own state was (cross-listed sections,
    observer links: ``policy.scope.fetch``), so the fingerprints compare like with like."""
    options = importlib.import_module("reconcile.canvas.state").fetch_options(plan.policy)
    fetch_state = getattr(client, "fetch_state", None)
    if options and fetch_state is not None:
        frame: pd.DataFrame = fetch_state(courses, **options)[0]
        return frame
    return client.fetch_current(courses)


def _applied_elsewhere(
    plan: Plan, current: pd.DataFrame, changed: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    elsewhere = importlib.import_module("reconcile.apply.elsewhere")  # the planner, late: see fingerprint()
    found: tuple[dict[str, dict[str, Any]], list[str]] = elsewhere.applied_elsewhere(plan, current, changed)
    return found


def _course_gate(plan: Plan, client: Client, seen: Mapping[str, str]) -> Callable[[str], Any]:
    """Just before a run's first write to a course, re-fetch it: unchanged since the stale
    check, go on; changed, go on only if the change is this plan's own effects (another run
    of it, see reconcile.apply.elsewhere), which are then already held. So two applies of
    different plans cannot interleave on one course unnoticed, whatever their state dirs."""

    def gate(course: str) -> dict[str, dict[str, Any]] | None:
        fresh = _fetch(client, plan, [course])
        if fingerprint(fresh, [course]).get(course) == seen.get(course):
            return {}
        found, stale_courses = _applied_elsewhere(plan, fresh, [course])
        return None if stale_courses else found

    return gate


def _close_dead_runs(journal: jr.Journal, records: Mapping[str, jr.OperationRecord]) -> dict[str, Any]:
    """Record as interrupted every run still marked running whose process is gone (its run
    marker is free), and name the run this one resumes: the last that touched the plan's
    operations. Called under the apply lock, so no live run of this state dir is missed."""
    directory = journal.path.parent
    for run in journal.runs(limit=1000):
        if run.outcome == jr.RUNNING and not run_alive(directory, run.run_id):
            journal.end_run(
                run.run_id, outcome=jr.INTERRUPTED, counts=run.counts, message=jr.INTERRUPTED_NOTE
            )
            marker_path(directory, run.run_id).unlink(missing_ok=True)
    touched = [r for r in records.values() if r.run_id and (r.ended_at or r.started_at)]
    if not touched:
        return {}
    last = max(touched, key=lambda r: (r.ended_at or r.started_at or "", r.run_id or ""))
    return {"resumes": last.run_id}


def _refuse(
    journal: jr.Journal,
    run_id: str,
    plan: Plan,
    url: str | None,
    overrides: dict[str, Any],
    *,
    outcome: str,
    message: str,
) -> None:
    """Journal a run that refused before any write, so history shows it."""
    journal.start_run(
        run_id, plan_id=plan.plan_id, canvas_url=url or plan.canvas_url, who=who(), overrides=overrides
    )
    journal.end_run(run_id, outcome=outcome, counts={}, message=message)
