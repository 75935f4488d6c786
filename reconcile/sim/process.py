"""The simulator in a process of its own (``reconcile sim serve``), so a client measured or
tested against it does not share its interpreter and GIL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SimProcess:
    url: str
    pid: int
    load_seconds: float  # process start to the "listening on" line: parse, validate, index


@contextmanager
def simulator_process(seed: str | Path, *options: str, cwd: str | Path | None = None) -> Iterator[SimProcess]:
    """``reconcile sim serve --seed SEED OPTIONS...`` on a free port; stopped with SIGINT on exit.

    Raises RuntimeError, with the server's error output, when it does not start.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "sim", "serve", "--seed", str(seed), "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            proc.kill()
            raise RuntimeError(
                f"simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        yield SimProcess(
            url=line.removeprefix("listening on "), pid=proc.pid, load_seconds=time.perf_counter() - started
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
