"""``reconcile apply`` (apply a reviewed plan, or plan-and-confirm from rosters) and ``reconcile history``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from reconcile import exitcodes
from reconcile.cli.common import (
    check_signature_or_fail,
    colour_for,
    config_option,
    document_kind,
    echo_retry_notice,
    load_config_or_fail,
    load_plan_or_fail,
    output_options,
    progress_console,
)
from reconcile.render.common import counted


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _is_plan_file(paths: Sequence[str]) -> bool:
    """One JSON document that is not a roster: a saved plan, or what looks like one (a
    damaged plan, a snapshot), which :func:`load_plan_or_fail` then names for what it is."""
    return len(paths) == 1 and document_kind(paths[0]) is not None


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Apply without asking: a plan made from rosters, or the new plan --refresh made.",
)
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=None,
    help="Operations in flight at once (default: canvas.concurrency from the config, 8).",
)
@click.option("--allow-drops", is_flag=True, help="Override tripped safety guards (recorded in the journal).")
@click.option(
    "--hold-drops",
    is_flag=True,
    help="When guards trip, apply everything but the removals and hold those (exit 3); "
    "a later apply of the same plan with --allow-drops runs only the held ones.",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="If Canvas changed since the plan, re-plan, show what differs and ask again "
    "(without a terminal: needs --auto-approve) instead of refusing.",
)
@click.option("--verify", is_flag=True, help="Re-plan the touched courses afterwards; anything left exits 5.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply to finish (0: fail at once).",
)
@click.option(
    "--require-signature",
    is_flag=True,
    help="Refuse a plan that is not signed with the key in RECONCILE_SIGNING_KEY (see plan --sign).",
)
@config_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@output_options
def apply(
    inputs: tuple[str, ...],
    auto_approve: bool,
    parallelism: int | None,
    allow_drops: bool,
    hold_drops: bool,
    refresh: bool,
    verify: bool,
    lock_timeout: float,
    require_signature: bool,
    config_path: str | None,
    output: str,
) -> None:
    """Apply a saved plan (PLAN.json), or plan from ROSTER files and apply after confirmation.

    A saved plan is applied exactly as reviewed: refused if it was edited after it was
    made, or its signature does not match (exit 1 before any network call: every request
    must follow from the content `reconcile show` renders), if a safety guard tripped
    (exit 3 at once, before any network call; or --allow-drops, or --hold-drops to apply
    the rest), if Canvas changed meanwhile (exit 4, or --refresh to re-plan and review
    again), or if another apply runs (exit 6). Every operation is journaled in the state
    dir, so running the same apply again after a crash or failure resumes: done operations
    are not repeated. Exit 5 when operations failed, 3 when removals were held.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas import CanvasClient
    from reconcile.canvas.errors import CanvasError

    if allow_drops and hold_drops:
        _fail(exitcodes.ERROR, "--allow-drops and --hold-drops contradict each other; give one")
    config = load_config_or_fail(config_path)
    workers = parallelism or config.canvas.concurrency
    is_plan = _is_plan_file(inputs)
    saved = None
    if is_plan:  # verified before anything else: a refused plan costs no network call
        saved = load_plan_or_fail(inputs[0])
        signature = check_signature_or_fail(saved, inputs[0], required=require_signature)
        if signature == "unchecked":
            click.echo(
                f"Note: {inputs[0]} is signed, but RECONCILE_SIGNING_KEY is not set here to check it.",
                err=True,
            )
    elif require_signature:
        _fail(exitcodes.ERROR, "--require-signature applies to a saved plan file, not to rosters")
    try:
        client = CanvasClient.from_env(config.canvas, concurrency=workers)
    except CanvasError as exc:
        _fail(exitcodes.ERROR, str(exc))
    with client:
        try:
            if saved is not None:
                plan = saved
                roster_paths = [str(i["path"]) for i in plan.inputs if i.get("path")]
            else:
                roster_paths = list(inputs)
                plan = _plan_from_rosters(roster_paths, config=config, client=client, output=output)
                if not plan.operations:
                    _emit_in_sync(plan, output)
                    return
                if plan.tripped_guards and not (allow_drops or hold_drops):
                    _guard_failure(plan.tripped_guards)  # before asking: a yes could not help
                if not auto_approve:
                    _confirm(plan)
            replan = _replanner(roster_paths, config=config, client=client)
            _run(
                plan,
                client=client,
                config=config,
                parallelism=workers,
                allow_drops=allow_drops,
                hold_drops=hold_drops,
                confirm_refresh=_refresh_review(auto_approve=auto_approve, output=output),
                refresh=refresh,
                verify=verify,
                lock_timeout=lock_timeout,
                replan=replan if (refresh or verify) else None,
                output=output,
            )
        except (CanvasError, ClaimsError) as exc:
            echo_retry_notice(client.stats)
            _fail(exitcodes.ERROR, str(exc))


def _replanner(roster_paths: list[str], *, config: Any, client: Any) -> Callable[[Sequence[str] | None], Any]:
    def replan(courses: Sequence[str] | None) -> Any:
        missing = [p for p in roster_paths if not Path(p).exists()]
        if not roster_paths:
            _fail(
                exitcodes.ERROR,
                "cannot re-plan: the plan has no roster inputs (an undo plan: make it again with `reconcile undo`)",
            )
        if missing:
            _fail(
                exitcodes.ERROR,
                f"cannot re-plan: the plan's roster inputs are not available ({', '.join(missing)})",
            )
        return _plan_or_fail(roster_paths, config=config, client=client, courses=courses)

    return replan


def _plan_or_fail(paths: list[str], *, config: Any, client: Any, courses: Sequence[str] | None = None) -> Any:
    """make_plan, or exit 1 listing the roster's problems (file, row, column)."""
    from reconcile.pipeline import RosterInvalid, make_plan

    try:
        plan, _ = make_plan(paths, config=config, client=client, courses=list(courses) if courses else None)
    except RosterInvalid as exc:
        lines = "\n  ".join(str(p) for p in exc.problems)
        _fail(exitcodes.ERROR, f"the roster has problems:\n  {lines}")
    return plan


def _plan_from_rosters(paths: list[str], *, config: Any, client: Any, output: str) -> Any:
    plan = _plan_or_fail(paths, config=config, client=client)
    err = output == "json"  # keep stdout for the JSON summary
    click.echo(_render_plan(plan, color=colour_for(sys.stderr if err else sys.stdout)), err=err)
    return plan


def _render_plan(plan: Any, *, color: bool) -> str:
    from reconcile.render import render_text

    return render_text(plan, color=color)


def _emit_in_sync(plan: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps({"plan_id": plan.plan_id, "exit_code": 0, "operations": 0, "in_sync": True}))
    else:
        click.echo("No changes: Canvas already matches the roster.")


def _refresh_review(*, auto_approve: bool, output: str) -> Callable[[Any, Any], None]:
    """What apply does when --refresh re-planned: show the new plan and what differs from the
    reviewed one, then ask for 'yes' (or take --auto-approve). A refreshed plan whose operations
    and tripped guards equal the reviewed ones is what was reviewed: it goes on without asking."""
    from reconcile.apply import RefreshDeclined
    from reconcile.render.diff import compare_plans, difference_text

    def review(reviewed: Any, fresh: Any) -> None:
        difference = compare_plans(reviewed, fresh)
        err = output == "json"
        if difference.same:
            click.echo(
                f"Canvas changed since plan {reviewed.plan_id}; re-planned as {fresh.plan_id}: "
                "the operations and guards are the ones reviewed.",
                err=err,
            )
            return
        click.echo(f"Canvas changed since plan {reviewed.plan_id} was reviewed. The refreshed plan:", err=err)
        click.echo(_render_plan(fresh, color=colour_for(sys.stderr if err else sys.stdout)), err=err)
        click.echo(difference_text(difference), err=err)
        if auto_approve:
            return
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise RefreshDeclined(
                "the refreshed plan differs from the reviewed one and there is no terminal to confirm on; "
                "review it and pass --auto-approve, or make and review a new plan"
            )
        answer = click.prompt(
            f"Apply the refreshed plan {fresh.plan_id} ({counted(len(fresh.operations), 'operation')})? "
            "Only 'yes' will be accepted",
            default="",
            show_default=False,
            err=err,
        )
        if answer.strip() != "yes":
            raise RefreshDeclined("apply cancelled: the refreshed plan was not approved")

    return review


def _guard_failure(guards: Sequence[Any]) -> NoReturn:
    lines = "\n  ".join(g.message or g.name for g in guards)
    _fail(
        exitcodes.GUARD,
        f"safety guard(s) tripped, nothing applied:\n  {lines}\n"
        "Pass --allow-drops to apply anyway, or --hold-drops to apply everything but the removals.",
    )


def _confirm(plan: Any) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _fail(
            exitcodes.ERROR,
            "not applying: no terminal to confirm on. Review the plan and pass --auto-approve, "
            "or save it with `reconcile plan --out plan.json` and apply that file.",
        )
    answer = click.prompt(
        f"Apply {counted(len(plan.operations), 'operation')} to Canvas? Only 'yes' will be accepted",
        default="",
        show_default=False,
    )
    if answer.strip() != "yes":
        _fail(exitcodes.ERROR, "apply cancelled.")


def _run(plan: Any, *, output: str, **options: Any) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from reconcile.apply import (
        GuardTripped,
        LockHeld,
        PlanMismatch,
        RefreshDeclined,
        StalePlan,
        StateDirUnusable,
        WrongCanvas,
        apply_plan,
    )
    from reconcile.apply.report import result_text, result_to_dict

    console = progress_console()
    progress: Progress | None = None
    task: Any = None
    if console is not None and output == "text":
        progress = Progress(
            TextColumn("applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )

    def on_start(running: Any, total: int) -> None:
        nonlocal task
        if progress is not None:
            progress.start()
            task = progress.add_task("apply", total=total, failed=0)

    failed = 0

    def on_progress(outcome: Any) -> None:
        nonlocal failed
        if progress is not None and task is not None:
            failed += outcome.status == "failed"
            progress.update(task, advance=1, failed=failed)

    try:
        result = apply_plan(plan, on_start=on_start, on_progress=on_progress, **options)
    except LockHeld as exc:
        config = options["config"]
        covers = (
            f"lock.path {config.lock.path}"
            if config.lock.path
            else f"the state dir {config.state_dir} (set lock.path to a folder other runners share "
            "to cover them too)"
        )
        _fail(
            exitcodes.LOCKED,
            f"another apply holds the lock: {exc.holder.describe()}. The lock ({exc.path}) covers every "
            f"apply of this Canvas that uses {covers}. Wait for it, or pass --lock-timeout SECONDS to wait here.",
        )
    except StalePlan as exc:
        where = (
            f"enrollments changed in Canvas since it was made, in {', '.join(exc.courses)}"
            if exc.courses
            else ""
        )
        claims = (
            "the claim set it was made with (manage.ownership: claimed) has changed" if exc.claims else ""
        )
        _fail(
            exitcodes.STALE,
            f"plan is stale: {'; '.join(w for w in (where, claims) if w)}. "
            "Run `reconcile plan` again and review it, or apply with --refresh.",
        )
    except GuardTripped as exc:
        _guard_failure(exc.guards)
    except (WrongCanvas, RefreshDeclined) as exc:
        _fail(exitcodes.ERROR, str(exc))
    except StateDirUnusable as exc:
        _fail(
            exitcodes.ERROR,
            f"{exc}. The state dir holds the journal and the lock; set state_dir in the config to a "
            "folder this user can create and write. Nothing was applied.",
        )
    except PlanMismatch as exc:
        lines = "\n  ".join(exc.problems[:5])
        _fail(
            exitcodes.ERROR,
            f"the plan does not match Canvas, nothing applied:\n  {lines}\n"
            "Its ids were changed after it was made. Make a new plan and review it.",
        )
    except KeyboardInterrupt:
        _fail(exitcodes.ERROR, "interrupted. Run the same apply again: done operations are not repeated.")
    finally:
        if progress is not None:
            progress.stop()
    if output == "json":
        click.echo(json.dumps(result_to_dict(result), indent=1))
    else:
        click.echo(result_text(result))
    client = options.get("client")
    if client is not None:
        echo_retry_notice(client.stats)
    sys.exit(result.exit_code)


@click.command()
@click.option("--run", "run_id", default=None, help="Show this run's operations (a unique prefix is enough).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Runs to list.")
@config_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@output_options
def history(run_id: str | None, limit: int, config_path: str | None, output: str) -> None:
    """List past apply runs from the journal, or one run's operations with --run."""
    from reconcile.apply.journal import JOURNAL_FILE
    from reconcile.apply.report import record_to_dict, run_detail_text, run_to_dict, runs_text

    config = load_config_or_fail(config_path)
    if not (Path(config.state_dir) / JOURNAL_FILE).exists():
        if output == "json":
            click.echo("[]" if run_id is None else "null")
        else:
            click.echo(f"No apply runs recorded yet (state dir {config.state_dir}).")
        if run_id is not None:
            sys.exit(exitcodes.ERROR)
        return
    from reconcile.apply.ledger import Ledger

    with Ledger.in_state_dir(config.state_dir) as ledger:
        journal = ledger.journal
        undone = ledger.undone_by()
        if run_id is None:
            runs = _with_dead_runs_named(journal.runs(limit=limit), config.state_dir)
            if output == "json":
                click.echo(
                    json.dumps([run_to_dict(r, undone_by=undone.get(r.run_id, ())) for r in runs], indent=1)
                )
            else:
                click.echo(runs_text(runs, undone=undone))
            return
        run = journal.run(run_id)
        if run is None:
            _fail(exitcodes.ERROR, f"no run {run_id!r} in the journal (or the prefix is ambiguous)")
        (run,) = _with_dead_runs_named([run], config.state_dir)
        records = journal.operations_of_run(run.run_id)
        resumed_by = [r.run_id for r in journal.runs(limit=1000) if r.overrides.get("resumes") == run.run_id]
    by = undone.get(run.run_id, ())
    if output == "json":
        click.echo(
            json.dumps(
                {
                    **run_to_dict(run, undone_by=by),
                    "resumed_by": resumed_by,
                    "operations": [record_to_dict(r) for r in records],
                },
                indent=1,
            )
        )
    else:
        click.echo(run_detail_text(run, records, undone_by=by, resumed_by=resumed_by))


def _with_dead_runs_named(runs: Sequence[Any], state_dir: str) -> list[Any]:
    """Runs journaled as running whose process is gone, shown as interrupted: the run's
    marker lock (reconcile.apply.lock.RunMarker) is free once its process has died."""
    import dataclasses

    from reconcile.apply import journal as jr
    from reconcile.apply.lock import run_alive

    return [
        dataclasses.replace(run, outcome=jr.INTERRUPTED, message=run.message or jr.INTERRUPTED_NOTE)
        if run.outcome == jr.RUNNING and not run_alive(state_dir, run.run_id)
        else run
        for run in runs
    ]
