"""`reconcile plan` on a real terminal (a pseudo-terminal): a progress bar while courses are
fetched, and a coloured plan; neither when the output is a pipe."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from terminal import run_on_a_terminal

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sis-export"
ARGS = ["plan", "enrollments.csv", "-c", "reconcile.yaml"]


def test_progress_and_colour_on_a_terminal_only(university, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    env = dict(os.environ, CANVAS_API_URL=university.url, CANVAS_API_TOKEN=university.token, TERM="xterm")
    university.simulator.set_faults(throttle="off", latency_ms=300)  # slow enough for the bar to be drawn
    code, screen = run_on_a_terminal(ARGS, env=env, cwd=tmp_path)
    assert code == 0, screen
    assert "Fetching courses" in screen and "\x1b[" in screen  # the bar, and colour codes
    assert "Plan:" in screen and university.token not in screen
    piped = subprocess.run(
        [sys.executable, "-m", "reconcile", *ARGS],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert "Plan:" in piped.stdout and "\x1b[" not in piped.stdout + piped.stderr
    assert "Fetching courses" not in piped.stderr
