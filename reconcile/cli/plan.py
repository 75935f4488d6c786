"""``reconcile plan`` (diff rosters against Canvas and show/save the plan) and ``reconcile show``.

Exit codes (DESIGN §7): 0 in sync (or changes, without --detailed-exitcode), 2 changes
present with --detailed-exitcode, 3 a guard tripped, 1 any error. Usage errors exit 1,
never 2, because 2 means "changes present" here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from reconcile import exitcodes
from reconcile.cli.common import config_option, load_config_or_fail
from reconcile.render.common import counted

OUTPUTS = ("text", "markdown", "json")
ROSTER_FORMATS = ("auto", "sis-csv", "yaml", "oneroster")


def _fail(message: str, *, code: int = exitcodes.ERROR) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _colour(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.command()
@click.argument("rosters", nargs=-1, required=True, type=click.Path(exists=True))
@config_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Save the plan document here.")
@click.option(
    "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="What to print."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes (0 only when in sync)."
)
@click.option(
    "--course", "courses", multiple=True, help="Plan only this course (SIS id or canvas:N); repeatable."
)
@click.option(
    "--current",
    "snapshot",
    type=click.Path(exists=True, dir_okay=False),
    help="Plan against a saved snapshot (reconcile export) instead of the live API.",
)
@click.option(
    "--format",
    "roster_format",
    type=click.Choice(ROSTER_FORMATS),
    default="auto",
    show_default=True,
    help="Roster format.",
)
@click.option(
    "--color/--no-color", "color", default=None, help="Colour the text output (default: on a terminal)."
)
def plan(
    rosters: tuple[str, ...],
    config_path: str | None,
    out_path: str | None,
    output: str,
    detailed_exitcode: bool,
    courses: tuple[str, ...],
    snapshot: str | None,
    roster_format: str,
    color: bool | None,
) -> None:
    """Compare ROSTER files with Canvas and show the operations that would make Canvas match.

    Nothing in Canvas is changed. Save the plan with --out and apply exactly that file with
    `reconcile apply plan.json` after review.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas.errors import CanvasError
    from reconcile.canvas.snapshot import SnapshotError
    from reconcile.pipeline import RosterInvalid, make_plan, save_plan
    from reconcile.render import render

    config = load_config_or_fail(config_path)
    try:
        with _progress() as on_progress:
            result, _ = make_plan(
                list(rosters),
                config=config,
                courses=list(courses) or None,
                current_snapshot=snapshot,
                roster_format=None if roster_format == "auto" else roster_format,
                on_progress=on_progress,
            )
    except RosterInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        done = "nothing was planned" if exc.fetched else "nothing was fetched or planned"
        _fail(f"{counted(len(exc.problems), 'problem')} in the roster; {done}")
    except (
        CanvasError,
        SnapshotError,
        ClaimsError,
        OSError,
        UnicodeDecodeError,
    ) as exc:  # one clear line each
        _fail(_one_line(exc))
    if out_path:
        try:
            save_plan(result, out_path)
        except OSError as exc:
            _fail(f"cannot write the plan to {out_path}: {exc.strerror or exc}")
    click.echo(render(result, output, color=output == "text" and _colour(color)), nl=False)
    if out_path and output == "text":
        click.echo(
            f"\nSaved the plan to {out_path}. Apply exactly this plan with: reconcile apply {out_path}"
        )
    if result.tripped_guards:
        sys.exit(exitcodes.GUARD)
    if detailed_exitcode and result.operations:
        sys.exit(exitcodes.CHANGES)
    sys.exit(exitcodes.OK)


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output", type=click.Choice(OUTPUTS), default="text", show_default=True, help="What to print."
)
@click.option(
    "--color/--no-color", "color", default=None, help="Colour the text output (default: on a terminal)."
)
def show(plan_file: str, output: str, color: bool | None) -> None:
    """Show a saved plan file as text, Markdown (for CI pages) or JSON."""
    from reconcile.pipeline import load_plan
    from reconcile.plan import PlanFormatError
    from reconcile.render import render

    try:
        saved = load_plan(plan_file)
    except PlanFormatError as exc:
        _fail(f"{plan_file}: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {plan_file}: {exc}")
    click.echo(render(saved, output, color=output == "text" and _colour(color)), nl=False)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr while courses are fetched, only on a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("Fetching courses"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("fetch", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    return text
