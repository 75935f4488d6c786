"""What every command shows besides its result: -v and RECONCILE_LOG logs, request figures,
the retry notice, "did you mean", and the small wordings people read every night.

The 5xx answers come from the simulator's own fault injection (``set_faults``), over real
HTTP; the retries are the client's real backoff.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconcile.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sis-export"
RETRY_LINE = re.compile(
    r"INFO reconcile\.canvas: GET /api/v1/courses/\S+: Canvas answered 50[023]; retry 1 of 5 in "
)
FIGURES = re.compile(r"^Requests: (\d+) \((\d+) retried, (\d+) throttled\) in \d+\.\d s$", re.M)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    return tmp_path


def run(university, workdir: Path, *args: str, **env: str) -> Result:  # type: ignore[no-untyped-def]
    environment = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token, **env}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def plan_args(workdir: Path, *extra: str) -> list[str]:
    return ["plan", str(workdir / "enrollments.csv"), "-c", str(workdir / "reconcile.yaml"), *extra]


def flaky(university) -> None:  # type: ignore[no-untyped-def]
    # seed 4: a few of the plan's GETs answer 5xx once or twice, none six times running
    university.simulator.set_faults(throttle="off", error_rate=0.5, seed=4)


def test_verbose_shows_each_retry_of_a_5xx_with_its_reason(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    flaky(university)
    for args in (plan_args(workdir, "-v"), ["-v", *plan_args(workdir)]):  # on the command or the group
        result = run(university, workdir, *args)
        assert result.exit_code == 0, result.output
        assert RETRY_LINE.search(result.stderr), result.stderr
        figures = FIGURES.search(result.stderr)
        assert figures and int(figures.group(2)) > 0, result.stderr
        assert "Note:" not in result.stderr  # each retry was shown already
        assert "Plan:" in result.stdout and "Requests:" not in result.stdout  # stdout stays the plan
        assert university.token not in result.output


def test_without_verbose_one_line_says_retries_stretched_the_run(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    flaky(university)
    result = run(university, workdir, *plan_args(workdir))
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert len(notes) == 1 and "retried after error" in notes[0] and "Run with -v" in notes[0], result.stderr
    assert "INFO" not in result.stderr


def test_quiet_run_has_figures_but_no_notice(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(university, workdir, *plan_args(workdir, "--output", "json"))
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the document alone
    assert FIGURES.fullmatch(result.stderr.strip()), result.stderr
    assert FIGURES.search(result.stderr).group(2) == "0"  # type: ignore[union-attr]


def test_reconcile_log_env_sets_the_level_and_never_shows_the_token(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    flaky(university)
    result = run(university, workdir, *plan_args(workdir), RECONCILE_LOG="debug")
    assert result.exit_code == 0, result.output
    assert re.search(r"DEBUG reconcile\.canvas: GET /api/v1/courses/\S+ -> 200 in ", result.stderr)
    assert RETRY_LINE.search(result.stderr)
    assert university.token not in result.output
    verbose = run(university, workdir, *plan_args(workdir, "-vv"))
    assert "DEBUG reconcile.canvas" in verbose.stderr and university.token not in verbose.output


def test_a_bad_reconcile_log_value_is_a_usage_error(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(university, workdir, *plan_args(workdir), RECONCILE_LOG="loud")
    assert result.exit_code == 1
    assert "RECONCILE_LOG='loud' is not one of debug, info, warning, error" in result.output
    assert university.simulator.stats()["total"] == 0


def test_apply_ends_with_the_same_figures_as_plan(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    plan_path = workdir / "plan.json"
    planned = run(university, workdir, *plan_args(workdir, "--out", str(plan_path)))
    assert planned.exit_code == 0, planned.output
    applied = run(university, workdir, "apply", str(plan_path), "-c", str(workdir / "reconcile.yaml"))
    assert applied.exit_code == 0, applied.output
    assert FIGURES.search(planned.stderr) and FIGURES.search(applied.stdout)


def test_an_empty_plan_saved_with_out_is_not_offered_for_apply(university, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    plan_path = workdir / "plan.json"
    first = run(university, workdir, *plan_args(workdir, "--out", str(plan_path)))
    assert f"Apply exactly this plan with: reconcile apply {plan_path}" in first.stdout
    run(university, workdir, "apply", str(plan_path), "-c", str(workdir / "reconcile.yaml"))
    again = run(university, workdir, *plan_args(workdir, "--out", str(plan_path)))
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout and "Apply exactly this plan" not in again.stdout
    assert f"Saved the plan to {plan_path}; it has nothing to apply." in again.stdout


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["plna"], "Did you mean 'plan'?"),
        (["hisotry"], "Did you mean 'history'?"),
        (["expotr"], "Did you mean 'export'?"),
        (["sim", "serv"], "Did you mean 'serve'?"),
        (
            ["frobnicate"],
            "Commands: apply, claim, demo, drift, export, history, plan, schema, show, sim, undo, validate.",
        ),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(args: list[str], suggestion: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert f"No such command '{args[-1]}'." in result.output and suggestion in result.output


def test_verbose_and_colour_are_accepted_by_every_command() -> None:
    from test_docs import _all_commands

    for path in _all_commands():
        result = CliRunner().invoke(cli, [*path, "--help"])
        for flag in ("-v, --verbose", "--color / --no-color"):
            assert flag in result.output, f"reconcile {' '.join(path)} lacks {flag}"
