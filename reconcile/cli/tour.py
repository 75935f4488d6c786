"""``reconcile demo``: the whole plan/apply story against the built-in Canvas simulator.

It starts the simulator in-process on the example university, works in a scratch folder,
and runs the real commands in this process, printing each one first so a newcomer can
type it themselves. Nothing outside the scratch folder and the in-memory Canvas changes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click

from reconcile import exitcodes
from reconcile.cli.common import LOG_ENV, colour_for, output_options, verbosity

# The demo's world and rosters are package data: reconcile/_examples is a link to the
# repository's examples/ folder, and a built wheel carries copies of the files used here.
EXAMPLES = Path(__file__).resolve().parents[1] / "_examples"
SEED = EXAMPLES / "sim" / "university.yaml"
ADMIN_TOKEN = "demo-admin-token"
TEACHER_TOKEN = "demo-teacher-token"  # Grace Hopper, teacher of MATH101-F26 in the seed


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class _Story:
    def __init__(self, *, pause: float) -> None:
        self.pause = pause
        self.step = 0
        self.failures: list[str] = []

    def chapter(self, title: str, text: str) -> None:
        self.step += 1
        click.echo()
        click.secho(f"── {self.step}. {title} ", fg="cyan", bold=True, nl=False)
        click.secho("─" * max(0, 70 - len(title)), fg="cyan")
        click.echo(text)
        click.echo()
        if self.pause:
            time.sleep(self.pause)

    def run(self, args: list[str], *, expect: int) -> int:
        """Run ``reconcile ARGS`` in this process, printing the command first."""
        from reconcile.cli import cli

        click.secho("$ reconcile " + shlex.join(args), fg="green", bold=True)
        code = _invoke(cli, args)
        verdict = "as expected" if code == expect else f"EXPECTED {expect}"
        click.secho(f"(exit {code}: {verdict})", fg="bright_black" if code == expect else "red")
        if code != expect:
            self.failures.append(f"reconcile {shlex.join(args)} exited {code}, expected {expect}")
        return code

    def shell(self, line: str) -> None:
        click.secho(f"$ {line}", fg="green", bold=True)


def _invoke(command: click.Command, args: list[str]) -> int:
    try:
        result = command.main(args=args, prog_name="reconcile", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exitcodes.ERROR if exc.exit_code == 2 else exc.exit_code
    except click.exceptions.Abort:
        return exitcodes.ERROR
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return result if isinstance(result, int) else 0


def _teacher_adds_a_student(url: str) -> str:
    """What a teacher does by hand in the Canvas UI: enroll someone the SIS never mentioned."""
    import requests

    path = "/api/v1/courses/sis_course_id:MATH101-F26/enrollments"
    response = requests.post(
        url + path,
        data={
            "enrollment[user_id]": "sis_user_id:S0016",
            "enrollment[type]": "StudentEnrollment",
            "enrollment[enrollment_state]": "active",
        },
        headers={"Authorization": f"Bearer {TEACHER_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    return f"POST {path}  enrollment[user_id]=sis_user_id:S0016 -> {response.status_code}"


def _truncate(source: Path, target: Path, *, keep_rows: int) -> None:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text("".join(lines[: keep_rows + 1]), encoding="utf-8")


@click.command()
@click.option("--pause", type=float, default=0.0, help="Seconds to pause between chapters (for presenting).")
@click.option(
    "--keep", is_flag=True, help="Keep the scratch folder with the plans and journal, and print it."
)
@output_options
def demo(pause: float, keep: bool) -> None:
    """Tell the whole plan/apply story against the built-in Canvas simulator (what `make demo` runs)."""
    from reconcile.sim import Simulator

    if not SEED.exists():
        raise click.ClickException(
            f"the demo's files are missing from this installation ({SEED} not found); reinstall canvas-reconcile"
        )
    started = time.monotonic()
    story = _Story(pause=pause)
    scratch = Path(tempfile.mkdtemp(prefix="reconcile-demo-"))
    for name in ("enrollments.csv", "reconcile.yaml"):
        shutil.copy(EXAMPLES / "sis-export" / name, scratch / name)
    shutil.copy(EXAMPLES / "demo" / "broken-enrollments.csv", scratch / "broken-enrollments.csv")
    shutil.copy(EXAMPLES / "demo" / "enrollments-next-day.csv", scratch / "enrollments-next-day.csv")
    _truncate(scratch / "enrollments.csv", scratch / "enrollments-truncated.csv", keep_rows=12)

    # The story's commands run in this process as fresh invocations: hand them this one's
    # colour and log choices the way a person would, through the environment.
    settings: dict[str, str] = {}
    if not colour_for(sys.stdout):
        settings["NO_COLOR"] = "1"
    if verbosity():
        settings[LOG_ENV] = "debug" if verbosity() > 1 else "info"
    simulator = Simulator.from_seed(SEED)
    with (
        simulator.serve() as url,
        _environment(CANVAS_API_URL=url, CANVAS_API_TOKEN=ADMIN_TOKEN, **settings),
        _cwd(scratch),
    ):
        click.secho("canvas-reconcile demo", bold=True)
        click.echo(
            f"A Canvas simulator is serving Northfield University, the example institution, at {url}.\n"
            f"Working in {scratch}; the commands below read the Canvas URL and token from the environment:\n"
            f"  export CANVAS_API_URL={url} CANVAS_API_TOKEN=<admin token>"
        )

        story.chapter(
            "Validate the SIS export",
            "Tonight's enrollments.csv from the SIS. Validation is offline: nothing is sent to Canvas.",
        )
        story.run(["validate", "enrollments.csv", "-c", "reconcile.yaml"], expect=exitcodes.OK)

        story.chapter(
            "A broken export is rejected before any network call",
            "Every problem, each with file, row and column; exit 1 and zero writes to Canvas.",
        )
        story.run(["validate", "broken-enrollments.csv", "-c", "reconcile.yaml"], expect=exitcodes.ERROR)

        story.chapter(
            "Plan",
            "Fetch every enrollment of the three courses, diff against the export, and show each operation with\n"
            "its reason: a section move, an observer, restores of invited/deleted rows, a student to conclude.",
        )
        story.run(
            ["plan", "enrollments.csv", "-c", "reconcile.yaml", "--out", "plan.json"], expect=exitcodes.OK
        )

        story.chapter(
            "Apply exactly the reviewed plan",
            "Re-fetches the courses to check the plan is not stale, then runs the operations concurrently,\n"
            "journaling each one in .reconcile/journal.sqlite so a crash can resume.",
        )
        story.run(["apply", "plan.json", "-c", "reconcile.yaml"], expect=exitcodes.OK)

        story.chapter(
            "Plan again: in sync",
            "With --detailed-exitcode a pipeline gets 0 when nothing is left to do (2 would mean changes).",
        )
        story.run(
            ["plan", "enrollments.csv", "-c", "reconcile.yaml", "--detailed-exitcode"], expect=exitcodes.OK
        )

        story.chapter(
            "The next day's export, planned and saved for review",
            "In MATH101, S0014 (who had declined the invitation) is back and S0008 has left.",
        )
        story.run(
            [
                "plan",
                "enrollments-next-day.csv",
                "-c",
                "reconcile.yaml",
                "--out",
                "next-day.json",
                "--detailed-exitcode",
            ],  # fmt: skip
            expect=exitcodes.CHANGES,
        )
        click.echo()
        click.echo("Meanwhile a teacher enrolls a student by hand in Canvas:")
        story.shell("curl -X POST -H 'Authorization: Bearer <teacher token>' ...")
        click.echo("  " + _teacher_adds_a_student(url))
        click.echo()
        click.echo("The saved plan no longer describes Canvas, so apply refuses it and names the course:")
        story.run(["apply", "next-day.json", "-c", "reconcile.yaml"], expect=exitcodes.STALE)

        story.chapter(
            "A truncated export is stopped by the drop guards",
            "The export job died after 12 rows. As a full-batch SIS import, Canvas would delete everyone missing\n"
            "from the file. Here the plan shows the drops, the per-course guard trips, and exit 3 stops the\n"
            "pipeline. (Courses absent from the file are out of scope unless listed in manage.courses.)",
        )
        story.run(
            ["plan", "enrollments-truncated.csv", "-c", "reconcile.yaml", "--out", "truncated.json"],
            expect=exitcodes.GUARD,
        )
        click.echo()
        story.run(["apply", "truncated.json", "-c", "reconcile.yaml"], expect=exitcodes.GUARD)

        story.chapter(
            "What a CI job would post",
            "The Markdown summary for a job page or pull-request comment (here for the next day's plan).",
        )
        story.run(["show", "next-day.json", "--output", "markdown"], expect=exitcodes.OK)

    click.echo()
    elapsed = time.monotonic() - started
    if keep:
        click.echo(f"Plans, journal and rosters kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    if story.failures:
        for failure in story.failures:
            click.secho(f"demo: {failure}", fg="red", err=True)
        raise SystemExit(exitcodes.ERROR)
    click.secho(
        f"Demo finished in {elapsed:.1f} s. Try it on your own export: see README.md, Quickstart.", bold=True
    )
