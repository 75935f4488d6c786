"""``reconcile claim``: take over the enrollments a roster matches, without changing Canvas.

For a tool taking over from SIS imports or hand enrollment before switching to
``manage.ownership: claimed``. Plan-and-apply-like: it fetches, shows what it would claim,
asks for ``yes`` on a terminal (or takes ``--auto-approve``), then, under the apply lock,
adds the claims to the claim set in the state dir and journals the run. Canvas is only read.

Exit codes: 0 claimed (or nothing to claim), 1 error or not confirmed, 4 the claim set
changed while waiting for the answer, 6 an apply holds the lock.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from reconcile import exitcodes
from reconcile.cli.common import config_option, fail, load_config_or_fail, output_options
from reconcile.render.common import DEFAULT_SECTION, counted

ROSTER_FORMATS = ("auto", "sis-csv", "yaml", "oneroster")
SHOWN = 20  # enrollments listed per course


@click.command()
@click.argument("rosters", nargs=-1, required=True, type=click.Path(exists=True))
@config_option
@output_options
@click.option(
    "--course", "courses", multiple=True, help="Claim only in this course (SIS id or canvas:N); repeatable."
)
@click.option("--auto-approve", is_flag=True, help="Claim without asking.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for an apply to finish (0: fail at once).",
)
@click.option(
    "--format",
    "roster_format",
    type=click.Choice(ROSTER_FORMATS),
    default="auto",
    show_default=True,
    help="Roster format.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def claim(
    rosters: tuple[str, ...],
    config_path: str | None,
    courses: tuple[str, ...],
    auto_approve: bool,
    lock_timeout: float,
    roster_format: str,
    output: str,
) -> None:
    """Claim the live enrollments that ROSTER rows match, so that manage.ownership: claimed manages them.

    Shows what it would claim and asks for 'yes' (or --auto-approve); writes nothing to
    Canvas. The claims go to the claim set in the state dir (a file you can back up), with
    what the tool saw of each enrollment, which `reconcile drift` compares against later.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas import CanvasClient
    from reconcile.canvas.errors import CanvasError
    from reconcile.pipeline import RosterInvalid, make_plan

    config = load_config_or_fail(config_path)
    fetched: list[Any] = []
    try:
        with CanvasClient.from_env(config.canvas) as client:
            plan, _ = make_plan(
                list(rosters),
                config=config,
                client=client,
                courses=list(courses) or None,
                roster_format=None if roster_format == "auto" else roster_format,
                on_current=fetched.append,
            )
            canvas_url = client.base_url
    except RosterInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(f"{len(exc.problems)} problem(s) in the roster; nothing was claimed")
    except (CanvasError, ClaimsError, OSError) as exc:
        fail(" ".join(str(exc).split()) or type(exc).__name__)
    current = fetched[0]
    claims = plan.claims or {}
    new: dict[str, list[int]] = claims.get("new") or {}
    wanted = {int(i) for ids in new.values() for i in ids}
    rows = current[current["id"].isin(wanted)]
    err = output == "json"
    left = int(plan.summary.get("not_claimed", 0))
    click.echo(_preview(rows, new, already=int(claims.get("count", 0)), left_alone=left), err=err)
    if not wanted:
        _emit(output, run_id=None, claimed=0, new=new)
        return
    if not auto_approve:
        _confirm(len(wanted))
    run_id, added = _write(
        config, canvas_url=canvas_url, plan=plan, rows=rows, current=current, lock_timeout=lock_timeout
    )
    _emit(output, run_id=run_id, claimed=added, new=new)


def _preview(rows: Any, new: dict[str, list[int]], *, already: int, left_alone: int) -> str:
    from reconcile.planner.keys import current_section_ref, current_user_ref

    total = sum(len(ids) for ids in new.values())
    lines = [
        f"Would claim {counted(total, 'enrollment')} in {counted(len(new), 'course')} "
        f"({already} already claimed); nothing in Canvas changes."
    ]
    if total:
        users = current_user_ref(rows).tolist()
        sections = current_section_ref(rows).tolist()
        columns = (
            rows["course_ref"].tolist(),
            users,
            rows["role"].tolist(),
            sections,
            rows["state"].tolist(),
        )
        listed = list(zip(*columns, rows["id"].tolist(), strict=True))
        for course in sorted(new):
            here = sorted((r for r in listed if r[0] == course), key=lambda r: (r[3] or "", r[1], r[2]))
            lines.append(f"{course}: {len(new[course])}")
            for _, user, role, section, state, eid in here[:SHOWN]:
                lines.append(f"  + {user}  {role}  {section or DEFAULT_SECTION}  {state}  (enrollment {eid})")
            if len(here) > SHOWN:
                lines.append(f"  ... and {len(here) - SHOWN} more")
    if left_alone:
        lines.append(
            f"{counted(left_alone, 'live enrollment')} in managed roles that no roster row matches stay unclaimed "
            "(manage.ownership: claimed leaves them alone)."
        )
    return "\n".join(lines)


def _confirm(n: int) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail("not claiming: no terminal to confirm on. Review the list and pass --auto-approve.")
    answer = click.prompt(
        f"Claim {counted(n, 'enrollment')}? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        fail("claim cancelled.")


def _write(
    config: Any, *, canvas_url: str, plan: Any, rows: Any, current: Any, lock_timeout: float
) -> tuple[str, int]:
    """Claim ``rows`` under the apply lock, journaled as a run; returns (run id, new claims)."""
    from reconcile.apply import Journal, LockHeld
    from reconcile.apply.claims import ClaimsError, ClaimSet
    from reconcile.apply.engine import new_run_id
    from reconcile.apply.lock import ApplyLock, who
    from reconcile.apply.ownership import claim_rows
    from reconcile.planner.ownership import claims_digest

    account = config.canvas.account_id
    lock = ApplyLock(config.state_dir, canvas_url=canvas_url, account=account)
    try:
        lock.acquire(timeout=lock_timeout, plan_id=plan.plan_id)
    except LockHeld as exc:
        fail(f"an apply is running against this Canvas: {exc.holder.describe()}.", code=exitcodes.LOCKED)
    try:
        try:
            claim_set = ClaimSet.load(config.state_dir, canvas_url=canvas_url, account=account)
        except ClaimsError as exc:
            fail(str(exc))
        if claims_digest(claim_set.ids()) != (plan.claims or {}).get("digest"):
            fail(
                "the claim set changed while this was waiting (an apply or another claim ran); "
                "run `reconcile claim` again and review it",
                code=exitcodes.STALE,
            )
        run_id = new_run_id()
        courses = list(plan.policy.get("scope", {}).get("courses", []))
        with Journal.in_state_dir(config.state_dir) as journal:
            journal.start_run(
                run_id, plan_id=plan.plan_id, canvas_url=canvas_url, who=who(), overrides={"claim": True}
            )
            added = claim_rows(
                rows,
                journal=journal,
                claim_set=claim_set,
                run_id=run_id,
                plan_id=plan.plan_id,
                courses=courses,
                all_rows=current,
            )
            journal.end_run(
                run_id, outcome="claimed", counts={}, message=f"claimed {counted(added, 'enrollment')}"
            )
        return run_id, added
    finally:
        lock.release()


def _emit(output: str, *, run_id: str | None, claimed: int, new: dict[str, list[int]]) -> None:
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "run_id": run_id,
                    "claimed": claimed,
                    "courses": {c: len(ids) for c, ids in sorted(new.items())},
                },
                indent=1,
            )
        )
    elif run_id is None:
        click.echo("Nothing to claim: every enrollment the roster matches is claimed already.")
    else:
        click.echo(f"Claimed {counted(claimed, 'enrollment')} (run {run_id}); see `reconcile history`.")
