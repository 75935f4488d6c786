"""``reconcile plan`` (diff rosters against Canvas and show/save the plan) and ``reconcile show``.

Exit codes (DESIGN §7): 0 in sync (or changes, without --detailed-exitcode), 2 changes
present with --detailed-exitcode, 3 a guard tripped, 1 any error. Usage errors exit 1,
never 2, because 2 means "changes present" here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from reconcile import exitcodes
from reconcile.cli.common import (
    SIGNING_KEY_ENV,
    check_signature_or_fail,
    colour_for,
    config_option,
    echo_request_figures,
    echo_retry_notice,
    load_config_or_fail,
    load_plan_or_fail,
    output_options,
    progress_console,
    signing_key,
)
from reconcile.render.common import counted

OUTPUTS = ("text", "markdown", "json")
ROSTER_FORMATS = ("auto", "sis-csv", "yaml", "oneroster")


def _fail(message: str, *, code: int = exitcodes.ERROR) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


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
    "--inventory",
    type=click.Choice(("courses", "report", "auto")),
    default=None,
    help="Where the inventory of Canvas comes from: every course's list, the account's provisioning "
    "report first (only changed courses are then fetched), or auto (the report above "
    "canvas.report_above courses). Default: canvas.inventory (auto).",
)
@click.option(
    "--sign",
    is_flag=True,
    help=f"Sign the plan (HMAC-SHA256) with the key in {SIGNING_KEY_ENV}, for apply --require-signature.",
)
@output_options
def plan(
    rosters: tuple[str, ...],
    config_path: str | None,
    out_path: str | None,
    output: str,
    detailed_exitcode: bool,
    courses: tuple[str, ...],
    snapshot: str | None,
    roster_format: str,
    inventory: str | None,
    sign: bool,
) -> None:
    """Compare ROSTER files with Canvas and show the operations that would make Canvas match.

    Nothing in Canvas is changed. Save the plan with --out and apply exactly that file with
    `reconcile apply plan.json` after review. The plan goes to standard output; the request
    figures (requests, retried, throttled, seconds) follow on standard error. With --sign the
    saved plan carries a signature that `reconcile apply --require-signature` checks, so a CI
    apply job runs only a plan its own plan job produced.
    """
    from reconcile.apply.claims import ClaimsError
    from reconcile.canvas import CanvasClient
    from reconcile.canvas.errors import CanvasError
    from reconcile.canvas.snapshot import SnapshotError
    from reconcile.pipeline import RosterInvalid, make_plan, save_plan
    from reconcile.plan import sign_plan
    from reconcile.render import render

    key = signing_key(needed_for="--sign") if sign else None  # before any network call
    config = load_config_or_fail(config_path)
    started = time.monotonic()
    client: Any = None
    try:
        if snapshot is None:
            client = CanvasClient.from_env(config.canvas)
        with _progress() as on_progress:
            result, _ = make_plan(
                list(rosters),
                config=config,
                client=client,
                courses=list(courses) or None,
                current_snapshot=snapshot,
                roster_format=None if roster_format == "auto" else roster_format,
                on_progress=on_progress,
                inventory=inventory,
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
        if client is not None:
            echo_retry_notice(client.stats)
        _fail(_one_line(exc))
    finally:
        if client is not None:
            client.close()
    if key is not None:
        result = sign_plan(result, key)
    if out_path:
        try:
            save_plan(result, out_path)
        except OSError as exc:
            _fail(f"cannot write the plan to {out_path}: {exc.strerror or exc}")
    click.echo(render(result, output, color=output == "text" and colour_for(sys.stdout)), nl=False)
    if out_path and output == "text":
        if result.operations:
            click.echo(
                f"\nSaved the plan to {out_path}. Apply exactly this plan with: reconcile apply {out_path}"
            )
        else:
            click.echo(f"\nSaved the plan to {out_path}; it has nothing to apply.")
    if client is not None:
        echo_request_figures(client.stats, time.monotonic() - started)
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
@output_options
def show(plan_file: str, output: str) -> None:
    """Show a saved plan file as text, Markdown (for CI pages) or JSON.

    The plan is verified first, as apply verifies it: a plan edited after it was made
    (or whose signature does not match, when RECONCILE_SIGNING_KEY is set) is refused
    with exit 1, so what is shown is what apply would send.
    """
    from reconcile.render import render

    saved = load_plan_or_fail(plan_file)
    signature = check_signature_or_fail(saved, plan_file, required=False)
    click.echo(render(saved, output, color=output == "text" and colour_for(sys.stdout)), nl=False)
    notes = {
        "signed": f"Signature: valid under the key in {SIGNING_KEY_ENV}.",
        "unchecked": f"Signature: present, not checked ({SIGNING_KEY_ENV} is not set).",
    }
    if signature in notes:
        click.echo(notes[signature], err=True)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr while courses are fetched, only on a terminal (and with colour)."""
    console = progress_console()
    if console is None:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("Fetching courses"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
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
