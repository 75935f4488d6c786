"""`reconcile apply ROSTER` on a real terminal (a pseudo-terminal): it shows the plan and applies only on "yes"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from terminal import run_on_a_terminal

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sis-export"


def _run_on_a_terminal(args: list[str], *, answer: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    return run_on_a_terminal(args, env=env, cwd=cwd, prompt=b"Only 'yes' will be accepted", answer=answer)


def _setup(university, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    shutil.copy(EXAMPLE / "reconcile.yaml", tmp_path / "reconcile.yaml")
    shutil.copy(EXAMPLE / "enrollments.csv", tmp_path / "enrollments.csv")
    return dict(os.environ, CANVAS_API_URL=university.url, CANVAS_API_TOKEN=university.token, TERM="xterm")


def test_yes_on_the_terminal_applies(university, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _setup(university, tmp_path)
    code, screen = _run_on_a_terminal(["apply", "enrollments.csv", "-c", "reconcile.yaml"], answer="yes",
                                      env=env, cwd=tmp_path)  # fmt: skip
    assert code == 0, screen
    assert "Plan:" in screen and "Only 'yes' will be accepted" in screen
    assert university.simulator.stats()["writes"] > 0


def test_anything_but_yes_applies_nothing(university, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _setup(university, tmp_path)
    code, screen = _run_on_a_terminal(["apply", "enrollments.csv", "-c", "reconcile.yaml"], answer="y",
                                      env=env, cwd=tmp_path)  # fmt: skip
    assert code == 1, screen
    assert "Plan:" in screen and "apply cancelled" in screen
    assert university.simulator.stats()["writes"] == 0


def test_progress_bar_while_applying_a_plan_on_a_terminal(university, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _setup(university, tmp_path)
    planned = subprocess.run(
        [sys.executable, "-m", "reconcile", "plan", "enrollments.csv", "-c", "reconcile.yaml", "--out", "plan.json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    university.simulator.set_faults(latency_ms=300)  # slow enough for the bar to be drawn
    code, screen = run_on_a_terminal(["apply", "plan.json", "-c", "reconcile.yaml"], env=env, cwd=tmp_path)
    assert code == 0, screen
    assert "applying" in screen and "0 failed" in screen  # the bar, with its failure count
    assert university.simulator.stats()["writes"] > 0
