"""``reconcile drift``: what changed in Canvas outside the tool since it last left it.

Exit codes (like ``terraform plan -refresh-only -detailed-exitcode``): 0 nothing drifted,
2 something did, 1 any error. Usage errors exit 1, never 2.
"""

from __future__ import annotations

import json
import sys

import click

from reconcile import exitcodes
from reconcile.cli.common import colour_for, config_option, fail, load_config_or_fail, output_options

OUTPUTS = ("text", "markdown", "json")
ROSTER_FORMATS = ("auto", "sis-csv", "yaml", "oneroster")


@click.command()
@click.argument("rosters", nargs=-1, type=click.Path(exists=True))
@config_option
@output_options
@click.option(
    "--course", "courses", multiple=True, help="Check only this course (SIS id or canvas:N); repeatable."
)
@click.option(
    "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="What to print."
)
@click.option(
    "--format",
    "roster_format",
    type=click.Choice(ROSTER_FORMATS),
    default="auto",
    show_default=True,
    help="Roster format.",
)
def drift(
    rosters: tuple[str, ...],
    config_path: str | None,
    courses: tuple[str, ...],
    output: str,
    roster_format: str,
) -> None:
    """Compare live Canvas with what this tool last left there, for every claimed enrollment.

    Reports claimed enrollments whose state, section, role, dates or section limit changed
    outside the tool, claimed ones that disappeared, and live enrollments in managed roles
    that appeared by hand since the tool last read the course, each with Canvas's
    updated_at. Given the ROSTER files, each item also says what the next plan would do with
    it. Nothing is changed anywhere. Exit 0 when nothing drifted, 2 when something did.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas import CanvasClient
    from reconcile.canvas.errors import CanvasError
    from reconcile.drift import drift_report, report_to_dict
    from reconcile.pipeline import RosterInvalid
    from reconcile.render.drift import render_drift_markdown, render_drift_text

    config = load_config_or_fail(config_path)
    try:
        with CanvasClient.from_env(config.canvas) as client:
            report = drift_report(
                config,
                client=client,
                rosters=list(rosters),
                courses=list(courses) or None,
                roster_format=None if roster_format == "auto" else roster_format,
            )
    except RosterInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail(f"{len(exc.problems)} problem(s) in the roster; nothing was compared")
    except (CanvasError, ClaimsError, OSError) as exc:
        fail(" ".join(str(exc).split()) or type(exc).__name__)
    if output == "json":
        click.echo(json.dumps(report_to_dict(report), indent=1))
    elif output == "markdown":
        click.echo(render_drift_markdown(report), nl=False)
    else:
        click.echo(render_drift_text(report, color=colour_for(sys.stdout)), nl=False)
    sys.exit(exitcodes.CHANGES if report.drifted else exitcodes.OK)
