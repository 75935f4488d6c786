"""Roster benchmark: load and validate a 1,000,000-row SIS enrollments.csv.

The file is generated into a temporary folder (never committed): 2,000 courses with
three sections each, 150,000 users, the role and status mix of a real term, dates on a
fifth of the rows. Each measurement runs in a fresh interpreter so peak memory (VmHWM, the resident high-water mark)
belongs to that step alone: ``pandas.read_csv`` of the file as strings (the floor any
loader pays) beside ``load_rosters`` (read + every validation + the desired table).
Bounds: at most 3x read_csv's time and 1.5 GB peak.
"""

from __future__ import annotations

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

READ_CSV = """
import json, sys, time
import pandas as pd
start = time.perf_counter()
frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
seconds = time.perf_counter() - start
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": len(frame)}))
"""

LOAD_ROSTERS = """
import json, sys, time
from reconcile.roster import load_rosters
start = time.perf_counter()
result = load_rosters([sys.argv[1]])
seconds = time.perf_counter() - start
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": len(result.desired),
                  "errors": len(result.errors), "warnings": len(result.warnings)}))
"""


def generate(path: Path, rows: int = ROWS, *, seed: int = 7) -> None:
    """Write a realistic, valid SIS enrollments.csv with ``rows`` distinct enrollments."""
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
    frame.to_csv(path, index=False)


def _measure(script: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    data: dict[str, float] = json.loads(proc.stdout)
    return data


def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "enrollments.csv"
        generate(path)
        size_mb = path.stat().st_size / 1e6
        baseline = _measure(READ_CSV, path)
        ours = _measure(LOAD_ROSTERS, path)
    ratio = ours["seconds"] / baseline["seconds"]
    time_ok = "within" if ratio <= TIME_BOUND else "OVER"
    memory_ok = "within" if ours["peak_mb"] <= MEMORY_BOUND_MB else "OVER"
    return f"""## roster

`load_rosters` on a generated {ROWS:,}-row SIS enrollments.csv ({size_mb:.0f} MB; 2,000 courses, 150,000
users, 20% of rows dated), each step in a fresh interpreter (peak = VmHWM of that process, imports included).

| step | seconds | peak memory | rows out |
|---|---:|---:|---:|
| `pandas.read_csv(dtype=str)` (floor) | {baseline["seconds"]:.2f} | {baseline["peak_mb"]:.0f} MB | {int(baseline["rows"]):,} |
| `load_rosters` (read + validate + desired table) | {ours["seconds"]:.2f} | {ours["peak_mb"]:.0f} MB | {int(ours["rows"]):,} |

- time: {ratio:.2f}x read_csv, bound 3x: {time_ok} bound
- memory: {ours["peak_mb"]:.0f} MB, bound {MEMORY_BOUND_MB} MB: {memory_ok} bound
- problems found: {int(ours["errors"])} errors, {int(ours["warnings"])} warnings (the file is valid)
"""


if __name__ == "__main__":
    print(run())
