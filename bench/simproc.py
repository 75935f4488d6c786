"""The simulator in its own process, for benchmarks (so the client's GIL does not distort it)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SimProcess:
    url: str
    pid: int
    load_seconds: float  # process start to the "listening on" line: parse, validate, index


@contextmanager
def simulator_process(seed: Path, *options: str) -> Iterator[SimProcess]:
    """``reconcile sim serve --seed SEED --throttle off OPTIONS...``; stopped with SIGINT on exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconcile",
            "sim",
            "serve",
            "--seed",
            str(seed),
            "--throttle",
            "off",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            proc.kill()
            raise RuntimeError(
                f"simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
            )
        yield SimProcess(url=line.split()[-1], pid=proc.pid, load_seconds=time.perf_counter() - started)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
