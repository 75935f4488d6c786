"""`reconcile apply ROSTER` on a real terminal (a pseudo-terminal): it shows the plan and applies only on "yes"."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sis-export"


def _run_on_a_terminal(args: list[str], *, answer: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", *args], stdin=follower, stdout=follower, stderr=follower,
        env=env, cwd=cwd, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"Only 'yes' will be accepted" in seen:
                    os.write(leader, answer.encode() + b"\r")
                    answered = True
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), seen.decode("utf-8", "replace")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()


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
