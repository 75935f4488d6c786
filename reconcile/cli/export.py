"""``reconcile export``: write the live enrollments of some courses as an SIS
``enrollments.csv`` or as a snapshot JSON that ``plan --current`` can read."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from reconcile import exitcodes
from reconcile.cli.common import (
    config_option,
    echo_request_figures,
    echo_retry_notice,
    load_config_or_fail,
    output_options,
    progress_console,
)
from reconcile.render.common import counted

# Standard output is held back until the export succeeds: in memory up to this size (about
# 300,000 CSV rows), in a temporary file beyond it.
HELD_IN_MEMORY = 32 << 20

# Fetched for --state current: what Canvas itself lists for an admin (facts §1.2).
CURRENT_STATES = ("active", "invited", "creation_pending", "inactive")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(exitcodes.ERROR)


@click.command()
@click.option(
    "--course",
    "courses",
    multiple=True,
    metavar="ID",
    help="Course SIS id, canvas:N or sis_course_id:X (repeatable).",
)
@click.option(
    "--courses-file", type=click.Path(exists=True, dir_okay=False), help="A file with one course per line."
)
@click.option(
    "--account",
    metavar="ID",
    help="Every course of this account (canvas:N, SIS account id as sis_account_id:X, or self).",
)
@click.option(
    "--term",
    metavar="ID",
    help="With --account: only the courses of this term (canvas:N, sis_term_id:X, current or default).",
)
@click.option(
    "--state",
    type=click.Choice(["all", "current"]),
    default="all",
    show_default=True,
    help="all: every state incl. completed/deleted; current: active, invited, pending and inactive only.",
)
@click.option("--format", "fmt", type=click.Choice(["sis-csv", "json"]), default="sis-csv", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), help="Output file (default: standard output)."
)
@click.option(
    "--config-out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the roster.custom_roles config the export needs here (default: show it on stderr).",
)
@config_option
@output_options
def export(
    courses: tuple[str, ...],
    courses_file: str | None,
    account: str | None,
    term: str | None,
    state: str,
    fmt: str,
    out: str | None,
    config_out: str | None,
    config_path: str | None,
) -> None:
    """Export the live enrollments of courses from Canvas.

    sis-csv writes a Canvas SIS enrollments.csv that plans back as "nothing to do": SIS
    ids where Canvas has them, canvas:N otherwise; roles as student/teacher/ta/observer/
    designer or the custom role's name; each enrollment's own state, except that pending
    invitations are written invited and rejected ones deleted. Test-student and temporary
    enrollments are left out. Cells starting with = + - @ are prefixed with ' so
    spreadsheets do not run them. Courses come in the order given (for --account, Canvas's
    order), each sorted by section, user and role.

    Custom roles met in the export must be declared in the config before it validates as a
    roster: the roster.custom_roles snippet for them (with their base roles) is shown on
    stderr, or written to --config-out FILE.

    json writes a snapshot of every field the planner uses; `reconcile plan --current FILE`
    plans against it without calling Canvas.

    Nothing is written until every course has been fetched, so a failed export leaves no
    file and prints nothing.

    Needs CANVAS_API_URL (or canvas.url in the config) and CANVAS_API_TOKEN.
    """
    from reconcile.canvas import CanvasClient, CanvasError
    from reconcile.canvas.sis_export import custom_roles, write_sis_csv
    from reconcile.canvas.snapshot import write_snapshot

    chosen = sum(bool(x) for x in (courses, courses_file, account))
    if chosen != 1:
        _fail("give exactly one of --course (repeatable), --courses-file or --account")
    if term and not account:
        _fail("--term goes with --account")
    config = load_config_or_fail(config_path)
    refs: list[str] = []
    filters: dict[str, str] = {}
    try:
        if not account:
            refs = _course_refs(courses, courses_file)
        elif term:
            filters["enrollment_term_id"] = _canvas_ref(term)
    except ValueError as exc:
        _fail(str(exc))
    started = time.monotonic()
    roles: dict[str, str] = {}

    def noting_roles(chunks: Iterable[Any]) -> Iterator[Any]:
        for chunk in chunks:
            roles.update(custom_roles(chunk))
            yield chunk

    client: Any = None
    try:
        with CanvasClient.from_env(config.canvas) as client:
            if account:
                with _spinner(f"listing courses of account {account}"):
                    refs = _account_courses(client, account, term, filters)
            states = None if state == "all" else CURRENT_STATES
            with _progress(len(refs)) as on_progress, _output(out) as handle:
                if fmt == "json":
                    frame = client.fetch_current(refs, on_progress=on_progress, states=states)
                    roles.update(custom_roles(frame))
                    write_snapshot(frame, handle, canvas_url=client.base_url)
                    written, skipped = len(frame), 0
                else:
                    # each chunk of courses is written while later ones are still being fetched
                    chunks = client.fetch_current_chunks(refs, on_progress=on_progress, states=states)
                    written, skipped = write_sis_csv(noting_roles(chunks), handle)
            stats = client.stats
    except CanvasError as exc:
        if client is not None:
            echo_retry_notice(client.stats)
        _fail(str(exc))
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    _custom_roles_config(roles, declared=config.roster.custom_roles, config_out=config_out)
    note = f" ({counted(skipped, 'test-student/temporary enrollment')} left out)" if skipped else ""
    if out or sys.stderr.isatty():
        click.echo(
            f"Exported {counted(written, 'enrollment')} from {counted(len(refs), 'course')}{note}.", err=True
        )
        echo_request_figures(stats, time.monotonic() - started)
    else:
        echo_retry_notice(stats)


def _custom_roles_config(roles: dict[str, str], *, declared: dict[str, Any], config_out: str | None) -> None:
    """The ``roster.custom_roles`` an export needs: to ``config_out`` when given (every custom
    role met), else on stderr when some are not declared in the config in use yet."""
    import yaml

    if config_out:
        document = {"roster": {"custom_roles": dict(sorted(roles.items()))}}
        try:
            Path(config_out).write_text(
                "# Custom roles met by `reconcile export`, with their base roles: merge into reconcile.yaml\n"
                + yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                encoding="utf-8",
            )
        except OSError as exc:
            _fail(f"cannot write {config_out}: {exc.strerror or exc}")
        click.echo(
            f"Wrote the roster.custom_roles config for {counted(len(roles), 'custom role')} to {config_out}.",
            err=True,
        )
        return
    missing = {name: base for name, base in sorted(roles.items()) if name not in declared}
    if not missing:
        return
    snippet = yaml.safe_dump({"roster": {"custom_roles": missing}}, sort_keys=False, allow_unicode=True)
    click.echo(
        f"The export names {counted(len(missing), 'custom role')} that the config does not declare; "
        "add this to reconcile.yaml before planning it (or use --config-out FILE):\n"
        + "".join(f"  {line}\n" for line in snippet.splitlines()),
        err=True,
        nl=False,
    )


def _course_refs(courses: tuple[str, ...], courses_file: str | None) -> list[str]:
    """Course refs from the options; a bare value is an SIS course id, as in rosters."""
    values = list(courses)
    if courses_file:
        lines = Path(courses_file).read_text(encoding="utf-8-sig").splitlines()
        values += [line.split("#", 1)[0].strip() for line in lines]
    refs = [_course_ref(value) for value in values if value.strip()]
    if not refs:
        raise ValueError("no courses given")
    return list(dict.fromkeys(refs))


def _course_ref(value: str) -> str:
    from reconcile.canvas.refs import SIS_COLUMNS, normalize
    from reconcile.ids import course_ref

    text = value.strip()
    prefix = text.split(":", 1)[0]
    if ":" in text and prefix in SIS_COLUMNS:
        return normalize(text)
    return normalize(course_ref(text))


def _account_courses(client: Any, account: str, term: str | None, filters: dict[str, str]) -> list[str]:
    from reconcile.canvas import NotFound

    try:
        return [course.ref for course in client.account_courses(_canvas_ref(account), **filters)]
    except NotFound:
        what = f"account {account} or term {term}" if term else f"account {account}"
        _fail(f"{what} not found")


def _canvas_ref(value: str) -> str:
    """An account or term as Canvas takes it in a path or filter: N, canvas:N, sis_*:X, self, current..."""
    from reconcile.canvas.refs import normalize

    text = value.strip()
    return normalize(text)


@contextmanager
def _output(out: str | None) -> Iterator[IO[str]]:
    """``out`` or standard output, written only once the export has succeeded: a failed
    export leaves no half file, and prints no half CSV into a pipeline."""
    if not out:
        with tempfile.SpooledTemporaryFile(
            max_size=HELD_IN_MEMORY, mode="w+", encoding="utf-8", newline=""
        ) as held:
            yield held
            held.seek(0)
            shutil.copyfileobj(held, sys.stdout)
        return
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal; nothing at all otherwise (cron, CI, pipes, NO_COLOR)."""
    console = progress_console()
    if console is None or total < 2:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("fetching"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("courses", total=total)

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield update


@contextmanager
def _spinner(message: str) -> Iterator[None]:
    console = progress_console()
    if console is None:
        yield
        return
    with console.status(message):
        yield
