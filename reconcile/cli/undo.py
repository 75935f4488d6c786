"""``reconcile undo RUN_ID``: write an ordinary plan that puts back what an apply run changed.

Exit codes as ``reconcile plan``: 0 written, 3 its guards trip (apply will refuse it without
``--allow-drops``), 1 any error (unknown run, nothing to undo, Canvas unreachable).
"""

from __future__ import annotations

import sys

import click

from reconcile import exitcodes
from reconcile.cli.common import colour_for, config_option, fail, load_config_or_fail, output_options

OUTPUTS = ("text", "markdown", "json")


@click.command()
@click.argument("run_id")
@config_option
@output_options
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Save the undo plan here."
)
@click.option(
    "--only",
    type=click.Choice(["removals"]),
    default=None,
    help="removals: only restore what the run concluded, deleted or inactivated; keep what it added.",
)
@click.option(
    "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="What to print."
)
def undo(run_id: str, config_path: str | None, out_path: str, only: str | None, output: str) -> None:
    """Write a plan that puts back what apply run RUN_ID changed (see `reconcile history`).

    Enrollments the run removed are restored in place (same enrollment id, section and
    dates), ones it created are deleted, updated attributes and last-attended dates are
    set back. An enrollment changed since the run is reported, not touched. The result is an
    ordinary plan: review it, then `reconcile apply undo.json` (stale-checked and guarded like
    any plan). Nothing in Canvas changes here.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas import CanvasClient
    from reconcile.canvas.errors import CanvasError
    from reconcile.pipeline import save_plan
    from reconcile.render import render
    from reconcile.undo import UndoError, make_undo_plan

    config = load_config_or_fail(config_path)
    try:
        with CanvasClient.from_env(config.canvas) as client:
            plan, found = make_undo_plan(run_id, config=config, client=client, only=only)
    except UndoError as exc:
        for warning in exc.warnings:
            click.echo(f"  - {warning.code}: {warning.message}", err=True)
        fail(str(exc))
    except (CanvasError, ClaimsError, OSError) as exc:
        fail(" ".join(str(exc).split()) or type(exc).__name__)
    try:
        save_plan(plan, out_path)
    except OSError as exc:
        fail(f"cannot write the plan to {out_path}: {exc.strerror or exc}")
    click.echo(render(plan, output, color=output == "text" and colour_for(sys.stdout)), nl=False)
    if output == "text":
        click.echo(
            f"\nUndo plan for run {plan.policy['undo']['run_id']} ({found.enrollments} enrollments it touched) "
            f"saved to {out_path}. Apply it with: reconcile apply {out_path}"
        )
    sys.exit(exitcodes.GUARD if plan.tripped_guards else exitcodes.OK)
