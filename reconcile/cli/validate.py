"""``reconcile validate ROSTER...``: check rosters without talking to Canvas."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from reconcile import exitcodes
from reconcile.cli.common import config_option, load_config_or_fail, output_options
from reconcile.render.common import counted
from reconcile.roster import FORMATS, load_rosters
from reconcile.roster.summary import summarise

MAX_WARNINGS = 100  # per run in text output; JSON always carries them all


@click.command()
@click.argument("rosters", nargs=-1, type=click.Path(path_type=str))
@config_option
@click.option(
    "--format",
    "roster_format",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Roster format; auto detects it from the content.",
)
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: problems on stderr, summary on stdout; json: one document on stdout.",
)
@output_options
def validate(rosters: tuple[str, ...], config_path: str | None, roster_format: str, output: str) -> None:
    """Check ROSTER files (SIS CSV, YAML, OneRoster folder or zip) before any Canvas call.

    Several files merge into one desired state (duplicates and conflicts across files are
    found too). Exit 0 when valid (warnings allowed), 1 with every error otherwise.
    """
    if not rosters:
        _fail(output, ["no roster given: reconcile validate ROSTER..."])
    config = load_config_or_fail(config_path, on_error=lambda problems: _fail(output, problems))
    result = load_rosters(rosters, config=config, format=roster_format)
    summary = summarise(result)
    if output == "json":
        document = {
            "valid": result.ok,
            "inputs": list(result.inputs),
            "summary": summary,
            "problems": [p.to_dict() for p in result.problems],
        }
        click.echo(json.dumps(document, indent=2))
        sys.exit(exitcodes.OK if result.ok else exitcodes.ERROR)
    shown = 0
    for problem in result.problems:
        if problem.severity == "warning":
            shown += 1
            if shown > MAX_WARNINGS:
                continue
        click.echo(str(problem), err=True)
    if shown > MAX_WARNINGS:
        click.echo(f"... and {shown - MAX_WARNINGS} more warnings (--output json lists them all)", err=True)
    if not result.ok:
        click.echo(
            f"invalid: {counted(len(result.errors), 'error')}, {counted(len(result.warnings), 'warning')}",
            err=True,
        )
        sys.exit(exitcodes.ERROR)
    _print_summary(result.inputs, summary)


def _fail(output: str, messages: list[str]) -> NoReturn:
    if output == "json":
        click.echo(json.dumps({"valid": False, "config_errors": messages}, indent=2))
    else:
        for message in messages:
            click.echo(message, err=True)
    sys.exit(exitcodes.ERROR)


def _print_summary(inputs: tuple[dict[str, Any], ...], summary: dict[str, Any]) -> None:
    click.echo(
        f"valid: {summary['rows']} enrollments from {summary['rows_read']} rows in {counted(len(inputs), 'input')}"
    )
    for item in inputs:
        click.echo(f"  {item['path']}  {item['format']}  {item['rows']} rows  sha256 {item['sha256'][:12]}")
    click.echo(f"courses {summary['courses']}, sections {summary['sections']}, users {summary['users']}")
    click.echo("by role:   " + ", ".join(f"{k} {v}" for k, v in summary["by_role"].items()))
    click.echo("by status: " + ", ".join(f"{k} {v}" for k, v in summary["by_status"].items()))
    if not summary["complete"]:
        click.echo("note: a delta roster: only the enrollments it names would change")
    if summary["warnings"]:
        click.echo(f"{counted(summary['warnings'], 'warning')} (on stderr)")
