"""One colour switch for every command: with NO_COLOR=1 (https://no-color.org) or
--no-color on a real pseudo-terminal, and in a pipe, nothing writes an escape code; no
colour, no live progress bar (it moves the cursor with escapes).

The simulator is made slow (latency) so that a progress bar would be drawn if one were
allowed; the positive control shows a terminal without NO_COLOR does get colour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from terminal import run_on_a_terminal

from reconcile.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sis-export"
ESC = "\x1b"


def _in_process(university, workdir: Path, *args: str) -> None:  # type: ignore[no-untyped-def]
    """Set the scene quickly: run a command in this process (the test is about the next one)."""
    env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}
    result = CliRunner().invoke(cli, [*args, "-c", str(workdir / "reconcile.yaml")], env=env)
    assert result.exit_code == 0, result.output


COMMANDS: dict[str, tuple[list[str], dict[str, object]]] = {
    "help": (["--help"], {}),
    "validate": (["validate", "enrollments.csv", "-c", "reconcile.yaml"], {}),
    "validate-broken": (["validate", "broken.csv", "-c", "reconcile.yaml"], {}),
    "plan": (["plan", "enrollments.csv", "-c", "reconcile.yaml"], {}),
    "show": (["show", "plan.json"], {}),
    "apply": (["apply", "plan.json", "-c", "reconcile.yaml"], {}),
    "apply-roster": (
        ["apply", "enrollments.csv", "-c", "reconcile.yaml"],
        {"prompt": b"Only 'yes' will be accepted", "answer": "yes"},
    ),
    "history": (["history", "-c", "reconcile.yaml"], {}),
    "export": (["export", "--account", "self", "--out", "export.csv"], {}),
    "schema": (["schema", "plan"], {}),
    "sim-generate": (["sim", "generate", "--courses", "3", "--out", "world.json"], {}),
    "sim-serve": (["sim", "serve", "--seed", "world.json", "--port", "0"], {"stop_after": b"listening on"}),
    "typo": (["plna"], {}),
}


def _prepare(workdir: Path, university, name: str) -> None:  # type: ignore[no-untyped-def]
    (workdir / "broken.csv").write_text("course_id,user_id,role,status\nMATH101-F26,S0001,studnet,actve\n")
    if name in {"show", "apply", "history"}:
        _in_process(
            university, workdir, "plan", str(workdir / "enrollments.csv"), "--out", str(workdir / "plan.json")
        )
    if name == "history":
        _in_process(university, workdir, "apply", str(workdir / "plan.json"))
    if name == "sim-serve":
        CliRunner().invoke(cli, ["sim", "generate", "--courses", "2", "--out", str(workdir / "world.json")])
    if name in {"plan", "apply", "apply-roster", "export"}:
        university.simulator.set_faults(throttle="off", latency_ms=200)  # slow enough for a bar to be drawn


def _env(university, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "RECONCILE_LOG"}}
    return {**env, "CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token, "TERM": "xterm",
            **extra}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_color_on_a_terminal_means_no_escape_codes(university, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    _prepare(tmp_path, university, name)
    args, options = COMMANDS[name]
    code, screen = run_on_a_terminal(args, env=_env(university, NO_COLOR="1"), cwd=tmp_path, **options)  # type: ignore[arg-type]
    assert screen.strip(), f"{name} showed nothing"
    assert ESC not in screen, f"{name} wrote escape codes under NO_COLOR: {screen!r}"[:2000]
    assert code in (0, 1, -15), screen  # validate-broken and the typo exit 1; sim serve is stopped


@pytest.mark.parametrize(("name", "where"), [("plan", "command"), ("plan", "group"), ("apply", "command")])
def test_no_color_flag_on_a_terminal_means_no_escape_codes(
    university, tmp_path: Path, name: str, where: str
) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    _prepare(tmp_path, university, name)
    args, _ = COMMANDS[name]
    args = [*args, "--no-color"] if where == "command" else ["--no-color", *args]
    code, screen = run_on_a_terminal(args, env=_env(university), cwd=tmp_path)
    assert code == 0, screen
    assert ESC not in screen, f"{args} wrote escape codes: {screen!r}"[:2000]


def test_a_terminal_without_no_color_does_get_colour(university, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    _prepare(tmp_path, university, "show")
    code, screen = run_on_a_terminal(["show", "plan.json"], env=_env(university), cwd=tmp_path)
    assert code == 0 and "\x1b[32m+\x1b[0m" in screen, screen  # the control: colour is on by default
    forced = subprocess.run([sys.executable, "-m", "reconcile", "show", "plan.json", "--color"],
                            env=_env(university), cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "\x1b[32m+\x1b[0m" in forced.stdout  # --color forces it even into a pipe


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"sim-serve", "apply-roster"}))
def test_a_pipe_gets_no_escape_codes(university, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    _prepare(tmp_path, university, name)
    args, _ = COMMANDS[name]
    piped = subprocess.run([sys.executable, "-m", "reconcile", *args], env=_env(university), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert piped.stdout + piped.stderr, f"{name} printed nothing"
    assert ESC not in piped.stdout + piped.stderr, f"{name}: {piped.stdout + piped.stderr!r}"[:2000]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["NO_COLOR", "pipe"])
def test_the_demo_writes_no_escape_codes_under_no_color_or_in_a_pipe(
    university, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    if how == "NO_COLOR":
        code, screen = run_on_a_terminal(["demo"], env=_env(university, NO_COLOR="1"), cwd=tmp_path)
        output = screen
    else:
        piped = subprocess.run([sys.executable, "-m", "reconcile", "demo"], env=_env(university), cwd=tmp_path,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
        code, output = piped.returncode, piped.stdout + piped.stderr
    assert code == 0, output[-3000:]
    assert "Demo finished" in output and ESC not in output
