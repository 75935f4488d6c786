"""Summaries of apply runs and journal history, as text or JSON-ready data. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.apply import journal as jr
from reconcile.apply.engine import ApplyResult
from reconcile.apply.executor import Outcome
from reconcile.render.common import counted, request_figures

OUTCOME_ORDER = ("applied", "already_held", "verified", "done_earlier", "held", "failed", "skipped")
# Canvas answers that re-running the same plan cannot change: the roster or Canvas must change first.
PERMANENT = ("400 ", "401 ", "403 ", "404 ")


def _target(outcome: Outcome) -> str:
    t = outcome.operation.target
    section = f" section {t.section}" if t.section else ""
    return f"{outcome.operation.action.value} {t.user} ({t.role}) in {t.course}{section}"


def result_to_dict(result: ApplyResult) -> dict[str, Any]:
    """The run summary as JSON-ready data (``reconcile apply --output json``)."""
    stats = result.client_stats
    return {
        "run_id": result.run_id,
        "plan_id": result.plan.plan_id,
        "exit_code": result.exit_code,
        "outcome": "aborted" if result.aborted else ("ok" if result.exit_code == 0 else "failed"),
        "aborted": result.aborted,
        "resumed": result.resumed,
        "refreshed": result.refreshed,
        "reviewed_plan_id": result.reviewed_plan_id,
        "allow_drops": result.allow_drops,
        "hold_drops": result.hold_drops,
        "operations": len(result.plan.operations),
        "counts": result.counts(),
        "wall_seconds": round(result.wall_seconds, 3),
        "requests": stats.get("requests"),
        "retries": stats.get("retries"),
        "throttled": stats.get("throttled"),
        "failures": [_outcome_dict(o) for o in result.failures],
        "skipped": [_outcome_dict(o) for o in result.skipped],
        "held": [_outcome_dict(o) for o in result.held],
        "verify": None
        if result.remaining is None
        else {"in_sync": not result.remaining, "remaining": [_op_dict(op) for op in result.remaining]},
    }


def _op_dict(op: Any) -> dict[str, Any]:
    t = op.target
    return {
        "op_id": op.id,
        "action": op.action.value,
        "course": t.course,
        "section": t.section,
        "user": t.user,
        "role": t.role,
        "reason": op.reason,
    }


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return {**_op_dict(outcome.operation), "status": outcome.status, "error": outcome.error}


def result_text(result: ApplyResult, *, limit: int = 50) -> str:
    """The human summary of a run: counts per action and outcome, timing, failures."""
    lines = []
    n = len(result.plan.operations)
    flags = [
        word
        for word, on in (
            ("resumed", result.resumed),
            (f"refreshed from reviewed plan {result.reviewed_plan_id}", result.refreshed),
            ("drops allowed", result.allow_drops),
            ("removals held", bool(result.held)),
        )
        if on
    ]
    extra = f" ({', '.join(flags)})" if flags else ""
    lines.append(
        f"Apply run {result.run_id} of plan {result.plan.plan_id}{extra}: "
        f"{counted(n, 'operation')} in {result.wall_seconds:.1f} s"
    )
    counts = result.counts()
    if counts:
        width = max(len(a) for a in counts)
        for action, by_outcome in counts.items():
            parts = [f"{k.replace('_', ' ')} {by_outcome[k]}" for k in OUTCOME_ORDER if k in by_outcome]
            lines.append(f"  {action:<{width}}  {', '.join(parts)}")
    stats = result.client_stats
    if stats:
        lines.append(
            request_figures(
                requests=stats.get("requests", 0),
                retried=stats.get("retries", 0),
                throttled=stats.get("throttled", 0),
                seconds=result.wall_seconds,
            )
        )
    if result.failures:
        lines.append(f"Failed ({len(result.failures)}):")
        lines += [f"  {_target(o)}: {o.error}" for o in result.failures[:limit]]
        if len(result.failures) > limit:
            lines.append(
                f"  ... and {len(result.failures) - limit} more (see `reconcile history --run {result.run_id}`)"
            )
    if result.skipped:
        lines.append(f"Skipped ({len(result.skipped)}):")
        lines += [f"  {_target(o)}: {o.error}" for o in result.skipped[:limit]]
        if len(result.skipped) > limit:
            lines.append(f"  ... and {len(result.skipped) - limit} more")
    if result.held:
        lines.append(
            f"Held ({len(result.held)}): removals not applied because the plan's guards tripped "
            "(everything else ran):"
        )
        lines += [f"  {_target(o)}" for o in result.held[:limit]]
        if len(result.held) > limit:
            lines.append(
                f"  ... and {len(result.held) - limit} more (see `reconcile history --run {result.run_id}`)"
            )
        lines.append(
            "If they are intended, apply the same plan again with --allow-drops: only the held operations run."
        )
    if result.aborted:
        lines.append(f"Stopped early: {result.aborted}. Run the same apply again to resume.")
    if result.remaining is not None:
        if result.remaining:
            lines.append(f"Verify: {counted(len(result.remaining), 'operation')} still to do after the run:")
            lines += [
                f"  {op.action.value} {op.target.user} ({op.target.role}) in {op.target.course}: {op.reason}"
                for op in result.remaining[:limit]
            ]
        else:
            lines.append("Verify: Canvas matches the roster for every touched course.")
    elif result.failures or result.skipped:
        permanent = [o for o in result.failures if (o.error or "").startswith(PERMANENT)]
        if permanent and len(permanent) == len(result.failures):
            lines.append(
                "Canvas refused these requests; running the same apply again will not change that. "
                "Correct the roster (or Canvas) and make a new plan."
            )
        else:
            lines.append(
                "Fix the causes above and run the same apply again: done operations are not repeated"
                + (" (requests Canvas refused need a corrected roster and a new plan)." if permanent else ".")
            )
    return "\n".join(lines)


def run_to_dict(run: jr.RunRecord, *, undone_by: Sequence[str] = ()) -> dict[str, Any]:
    """A journaled run as JSON-ready data (``undone_by``: runs that applied an undo plan of it)."""
    return {
        "run_id": run.run_id,
        "plan_id": run.plan_id,
        "canvas_url": run.canvas_url,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "who": run.who,
        "overrides": run.overrides,
        "outcome": run.outcome,
        "counts": run.counts,
        "message": run.message,
        "undone_by": list(undone_by),
    }


def record_to_dict(record: jr.OperationRecord) -> dict[str, Any]:
    """A journaled operation as JSON-ready data."""
    return {
        "op_id": record.op_id,
        "action": record.action,
        "course": record.course,
        "section": record.section,
        "user": record.user,
        "role": record.role,
        "status": record.status,
        "attempts": record.attempts,
        "enrollment_id": record.enrollment_id,
        "enrollment_state": record.enrollment_state,
        "error": record.error,
        "note": record.note,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
    }


def _total(counts: dict[str, Any]) -> str:
    totals: dict[str, int] = {}
    for by_outcome in counts.values():
        if isinstance(by_outcome, dict):
            for key, value in by_outcome.items():
                totals[key] = totals.get(key, 0) + int(value)
    return ", ".join(f"{k.replace('_', ' ')} {totals[k]}" for k in OUTCOME_ORDER if k in totals) or "-"


RUN_COLUMNS = ("run", "started", "outcome", "plan", "by", "operations")


def _undone(run_ids: Sequence[str]) -> str:
    return f"  [undone by {', '.join(run_ids)}]" if run_ids else ""


def runs_text(runs: Sequence[jr.RunRecord], *, undone: Mapping[str, Sequence[str]] | None = None) -> str:
    """A header row, then one row per run, newest first; columns aligned. ``undone``: run id ->
    the runs that applied an undo of it. A resumed run names the run it resumes, and that run
    the one that resumed it (when both are listed)."""
    if not runs:
        return "No apply runs recorded in this state dir."
    rows = [RUN_COLUMNS]
    resumed_by = {str(r.overrides["resumes"]): r.run_id for r in runs if r.overrides.get("resumes")}
    for run in runs:
        who = f"{run.who.get('user') or '?'}@{run.who.get('host') or '?'}"
        links = []
        if run.overrides.get("resumes"):
            links.append(f"resumes {run.overrides['resumes']}")
        if run.run_id in resumed_by:
            links.append(f"resumed by {resumed_by[run.run_id]}")
        notes = [*links, *([run.message] if run.message else [])]
        message = f"  [{'; '.join(notes)}]" if notes else ""
        rows.append(
            (
                run.run_id,
                run.started_at,
                run.outcome,
                run.plan_id[:16],
                who,
                _total(run.counts) + message + _undone((undone or {}).get(run.run_id, ())),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(RUN_COLUMNS) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )


def run_detail_text(
    run: jr.RunRecord,
    records: Sequence[jr.OperationRecord],
    *,
    undone_by: Sequence[str] = (),
    resumed_by: Sequence[str] = (),
) -> str:
    """A run's header (with the runs it resumes, that resumed it and that undid it) and every
    operation it touched, in the order they started."""
    who = run.who
    overrides = ", ".join(f"{k}={v}" for k, v in sorted(run.overrides.items())) or "none"
    lines = [
        f"Run {run.run_id}: {run.outcome}",
        f"  plan     {run.plan_id}",
        f"  canvas   {run.canvas_url or '-'}",
        f"  by       {who.get('user') or '?'}@{who.get('host') or '?'} (pid {who.get('pid')})",
        f"  started  {run.started_at}",
        f"  ended    {run.ended_at or '-'}",
        f"  options  {overrides}",
    ]
    if run.message:
        lines.append(f"  note     {run.message}")
    if run.overrides.get("resumes"):
        lines.append(f"  resumes  {run.overrides['resumes']}")
    if resumed_by:
        lines.append(f"  resumed  by {', '.join(resumed_by)}")
    if undone_by:
        lines.append(f"  undone   by {', '.join(undone_by)}")
    lines.append(f"Operations ({len(records)}):")
    for r in records:
        eid = f" enrollment {r.enrollment_id}" if r.enrollment_id is not None else ""
        # what the plan said it changes ("end_at 2026-12-13 -> 2026-12-20"); journals written
        # before that was recorded show the state Canvas answered with
        state = f": {r.change}" if r.change else (f" -> {r.enrollment_state}" if r.enrollment_state else "")
        why = f": {r.error}" if r.error else (f" ({r.note})" if r.note else "")
        lines.append(
            f"  {r.status:<8} {r.action:<17} {r.user} ({r.role}) in {r.course}{eid}{state}"
            f" [attempts {r.attempts}]{why}"
        )
    return "\n".join(lines)
