"""Roster benchmark: load and validate a 1,000,000-row SIS enrollments.csv.

The file is generated into a temporary folder (never committed): 2,000 courses with
three sections each, 150,000 users, the role and status mix of a real term, dates on a
fifth of the rows. Each measurement runs in a fresh interpreter so peak memory (VmHWM, the resident high-water mark)
belongs to that step alone: ``pandas.read_csv`` of the file as strings (the floor any
loader pays) beside ``load_rosters`` (read + every validation + the desired table).
Bounds: at most 3x read_csv's time and 1.5 GB peak.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 1_000_000
TIME_BOUND = 3.0
MEMORY_BOUND_MB = 1536
REPEATS = 5

READ_CSV = """
import json, sys, time
import pandas as pd
start, cpu = time.perf_counter(), time.process_time()
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "rows": len(frame)}))
"""

LOAD_ROSTERS = """
import json, sys, time
from reconcile.roster import load_rosters
start, cpu = time.perf_counter(), time.process_time()
result = load_rosters([sys.argv[1]])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "rows": len(result.desired),
                  "errors": len(result.errors), "warnings": len(result.warnings)}))
"""


def generate(
    path: Path, rows: int = ROWS, *, seed: int = 7, quote_all: bool = False, commas: float = 0.0
) -> None:
    """Write a realistic, valid SIS enrollments.csv with ``rows`` distinct enrollments.

    ``commas``: the share of rows whose section id holds a comma (``C00042-F26-01, lab``),
    so the file must be quoted and the loader cannot take its fast path.
    """
    rng = np.random.default_rng(seed)
    courses = rng.integers(0, 2000, rows)
    sections = rng.integers(1, 4, rows)
    # Distinct (course, section, user) triples: the row number fixes the user slot.
    users = (np.arange(rows) * 7919 + courses) % 150_000
    role = rng.choice(
        ["student", "teacher", "ta", "observer", "designer"], rows, p=[0.9, 0.03, 0.03, 0.03, 0.01]
    )
    status = rng.choice(["active", "inactive", "completed", "deleted"], rows, p=[0.85, 0.05, 0.05, 0.05])
    dated = rng.random(rows) < 0.2
    course_ids = pd.Series(courses).map("C{:05d}-F26".format)
    frame = pd.DataFrame(
        {
            "course_id": course_ids,
            "section_id": course_ids + pd.Series(sections).map("-{:02d}".format),
            "user_id": pd.Series(np.arange(rows)).map("U{:07d}".format),
            "role": role,
            "status": status,
            "start_date": np.where(dated, "2026-08-24T08:00:00Z", ""),
            "end_date": np.where(dated, "2026-12-18", ""),
            "associated_user_id": np.where(role == "observer", pd.Series(users).map("U{:07d}".format), ""),
            "limit_section_privileges": np.where(role == "ta", "true", "false"),
        }
    )
    # every observer must observe someone other than themself
    frame.loc[frame["associated_user_id"] == frame["user_id"], "associated_user_id"] = "U9999999"
    if commas:  # drawn last, so the other files' rows stay as they were
        frame["section_id"] += np.where(rng.random(rows) < commas, ", lab", "")
    frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)


def _measure(script: str, path: Path, *, repeats: int = REPEATS) -> dict[str, float]:
    """Best of ``repeats`` fresh-interpreter runs (the machine may be shared; the best run
    is the one least disturbed), by wall time."""
    runs = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(proc.stdout))
    best: dict[str, float] = min(runs, key=lambda r: r["seconds"])
    return best


def _case(label: str, *, quote_all: bool, commas: float = 0.0) -> tuple[str, float, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "enrollments.csv"
        generate(path, quote_all=quote_all, commas=commas)
        size_mb = path.stat().st_size / 1e6
        base = _measure(READ_CSV, path)
        ours = _measure(LOAD_ROSTERS, path)
    ratio = ours["seconds"] / base["seconds"]
    cpu_ratio = ours["cpu"] / base["cpu"]
    rows = (
        f"| {label} ({size_mb:.0f} MB) | `pandas.read_csv(dtype=str)` | {base['seconds']:.2f} | {base['cpu']:.2f} "
        f"| {base['peak_mb']:.0f} MB | {int(base['rows']):,} | |\n"
        f"| {label} ({size_mb:.0f} MB) | `load_rosters` | {ours['seconds']:.2f} | {ours['cpu']:.2f} "
        f"| {ours['peak_mb']:.0f} MB | {int(ours['rows']):,} | {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU |\n"
    )
    if ours["errors"] or ours["warnings"]:
        rows += (
            f"| | problems found | {int(ours['errors'])} errors, {int(ours['warnings'])} warnings | | | | |\n"
        )
    return rows, ratio, ours["peak_mb"]


def run() -> str:
    plain, plain_ratio, plain_peak = _case("unquoted", quote_all=False)
    quoted, quoted_ratio, quoted_peak = _case("every field quoted", quote_all=True)
    scanned, scanned_ratio, scanned_peak = _case(
        "quoted, 1% of cells with a comma", quote_all=True, commas=0.01
    )
    verdict = []
    for label, ratio, peak in (
        ("unquoted", plain_ratio, plain_peak),
        ("quoted", quoted_ratio, quoted_peak),
        ("quoted with commas in cells (byte-level scan)", scanned_ratio, scanned_peak),
    ):
        time_ok = "within" if ratio <= TIME_BOUND else "over"
        memory_ok = "within" if peak <= MEMORY_BOUND_MB else "over"
        verdict.append(
            f"- {label}: {ratio:.2f}x read_csv ({time_ok} the {TIME_BOUND:.0f}x bound), "
            f"peak {peak:.0f} MB ({memory_ok} the {MEMORY_BOUND_MB} MB bound)"
        )
    return f"""## roster

`load_rosters` (read + every validation + the desired table) on a generated {ROWS:,}-row SIS
enrollments.csv (2,000 courses, 150,000 users, 20% of rows dated, all valid), beside
`pandas.read_csv` of the same file as strings, the floor any loader pays. Each figure is the
best of {REPEATS} runs, each in a fresh interpreter; peak = VmHWM of that process, imports
included. The first two files take the fast path: pandas parses, and when no parsed cell
holds a comma, newline or quote, the file's comma and newline counts prove every row whole.
The third holds commas inside quoted cells, so rows cut short can only be found by the
byte-level quote-parity scan; it shows what a file pays that cannot be proven whole cheaply.
The bounds apply to the first two; the third is reported for honesty. Where read_csv's
CPU time exceeds its wall time it ran partly on a second thread, which load_rosters' own
parse (from bytes already in memory) does not get; the CPU column compares work done.

| file | step | wall s | CPU s | peak memory | rows out | vs read_csv |
|---|---|---:|---:|---:|---:|---:|
{plain}{quoted}{scanned}
{chr(10).join(verdict)}
"""


if __name__ == "__main__":
    print(run())
