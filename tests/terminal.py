"""Run ``python -m reconcile`` on a real pseudo-terminal, as a person at a keyboard would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def run_on_a_terminal(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    prompt: bytes | None = None,
    answer: str = "",
    stop_after: bytes | None = None,
) -> tuple[int, str]:
    """``(exit status, everything the terminal showed)``; types ``answer`` once ``prompt`` appears,
    and ends the command (SIGTERM) once ``stop_after`` has appeared (for a server)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", *args], stdin=follower, stdout=follower, stderr=follower,
        env=env, cwd=cwd, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    answered = prompt is None
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
                if not answered and prompt is not None and prompt in seen:
                    os.write(leader, answer.encode() + b"\r")
                    answered = True
                if stop_after is not None and stop_after in seen and proc.poll() is None:
                    time.sleep(0.3)  # let it write whatever follows
                    proc.terminate()
                    stop_after = None
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), seen.decode("utf-8", "replace")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
