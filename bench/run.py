"""Run benchmarks and rewrite ``bench/RESULTS.md``.

Each benchmark is a module ``bench/<name>.py`` with ``run() -> str`` returning a Markdown
section (figures beside their bound or peer, measured in the same run). The section is
saved to ``bench/results/<name>.md`` and RESULTS.md is rebuilt from every saved section,
so running one benchmark keeps the others' last figures.

Usage: ``python -m bench.run all`` or ``python -m bench.run sim client ...``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Order in RESULTS.md; a module missing here is simply not run yet.
BENCHMARKS = ["sim", "client", "roster", "planner", "apply", "pacing", "inventory"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def settle(*, below: float = 1.0, timeout: float = 120.0) -> None:
    """Wait (bounded) for the 1-minute load average to fall, so one benchmark's own load
    (e.g. the simulator benchmark saturating both cores) does not spill into the next."""
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] > below and time.monotonic() < deadline:
        time.sleep(5)


def main(argv: list[str]) -> int:
    names = BENCHMARKS if not argv or argv == ["all"] else argv
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"bench {name}: not written yet, skipped", file=sys.stderr)
                continue
            raise
        settle()
        print(f"== bench {name} (1-minute load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = module.run()
        (RESULTS / f"{name}.md").write_text(f"<!-- measured {stamp} on {machine()} -->\n{section.strip()}\n")
    parts = [
        "# Benchmark results\n",
        "Written by `make bench` (`python -m bench.run`); do not edit by hand. Each section says when and on",
        "what machine it was measured; every figure stands beside its bound or peer from the same run.\n",
    ]
    for name in BENCHMARKS:
        path = RESULTS / f"{name}.md"
        if path.exists():
            parts.append(path.read_text())
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
