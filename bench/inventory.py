"""Inventory benchmark: a nightly account-wide plan, course by course vs from the provisioning report.

The simulator runs in its own process: 2,000 courses, ~100,000 enrollments, 50 ms latency,
Canvas's throttle on (hwm 600, outflow 10/s, 50 up front per request in flight) with a cost
of 1.0 + 0.01 per item per request, and the provisioning report taking ``REPORT_DELAY``
seconds to generate. The roster is the account's own export without its date columns (in
sync, and dating nothing), changed in 5% of the courses (a student dropped, one added, one made inactive). Measured in one run,
each plan on a freshly reset simulator:

1. ``plan --inventory courses``: every course's enrollments;
2. ``plan --inventory report``: the report, then only the courses it shows changed or cannot
   decide.

Reported: requests (the client's, and the simulator's own count by route), throttled
answers, wall time (the report's generation delay included), and whether the two plans have
the same operations.
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import requests
import yaml

from reconcile.canvas import CanvasClient
from reconcile.canvas.sis_export import write_sis_csv
from reconcile.config import load_config
from reconcile.pipeline import make_plan
from reconcile.sim.generate import ADMIN_TOKEN, generate
from reconcile.sim.process import simulator_process

COURSES = 2000
STUDENTS = 48
LATENCY_MS = 50.0
CHURN = 0.05
REPORT_DELAY = 30.0
COST = {"request_cost": 1.0, "item_cost": 0.01}
ENROLLMENTS_ROUTE = "GET /api/v1/courses/:id/enrollments"


def _sim(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(
        method, f"{url}/__sim/{path}", data=json.dumps(body) if body else None, timeout=60
    )
    response.raise_for_status()
    return response.json() if response.content else None


def _export(url: str, path: Path) -> None:
    """The account's enrollments as an SIS CSV (the in-sync roster), throttle off."""
    with CanvasClient(url, ADMIN_TOKEN, concurrency=8) as client:
        courses = client.account_courses(1)
        text = io.StringIO()
        write_sis_csv(client.fetch_current_chunks([c.ref for c in courses]), text)
    # an SIS export that dates nothing (a roster with date columns manages dates, which the
    # report cannot show: every course would be confirmed)
    roster = pd.read_csv(io.StringIO(text.getvalue()), dtype=str, keep_default_na=False)
    roster.drop(columns=["start_date", "end_date"]).to_csv(path, index=False)


def _churn(path: Path, *, seed: int) -> int:
    """Change the roster in ``CHURN`` of its courses; returns how many courses changed."""
    rng = random.Random(seed)
    roster = pd.read_csv(path, dtype=str, keep_default_na=False)
    courses = sorted(set(roster["course_id"]))
    changed = rng.sample(courses, round(len(courses) * CHURN))
    students = sorted(set(roster.loc[roster["role"] == "student", "user_id"]))
    extra = []
    for course in changed:
        rows = roster.index[(roster["course_id"] == course) & (roster["role"] == "student")].tolist()
        if len(rows) < 2:
            continue
        drop, pause = rng.sample(rows, 2)
        roster.loc[pause, "status"] = "inactive"
        roster = roster.drop(index=drop)
        here = set(roster.loc[roster["course_id"] == course, "user_id"])
        newcomer = next(s for s in rng.sample(students, 50) if s not in here)
        row = roster.loc[pause].copy()
        row["user_id"], row["status"] = newcomer, "active"
        extra.append(row)
    roster = pd.concat([roster, pd.DataFrame(extra)], ignore_index=True)
    roster.to_csv(path, index=False)
    return len(changed)


def _plan(url: str, roster: Path, config_path: Path, inventory: str) -> dict[str, Any]:
    _sim(url, "POST", "reset")  # also back to the start-up knobs: set the throttle again
    _sim(url, "PUT", "faults", {"latency_ms": LATENCY_MS, "throttle": True, **COST})
    config = load_config(config_path, env={"CANVAS_API_URL": url})
    with CanvasClient(url, ADMIN_TOKEN, concurrency=8) as client:
        started = time.perf_counter()
        plan, _ = make_plan([roster], config=config, client=client, inventory=inventory)
        wall = time.perf_counter() - started
        stats = client.stats
    served = _sim(url, "GET", "stats")
    return {
        "wall": wall,
        "requests": stats.requests,
        "throttled": stats.throttled,
        "cost": stats.request_cost,
        "enrollment_lists": served["requests"].get(ENROLLMENTS_ROUTE, 0),
        "served": served.get("total", 0),
        "ops": sorted(op.id for op in plan.operations),
        "inventory": plan.policy.get("inventory", {}),
    }


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = generate(courses=COURSES, students_per_course=STUDENTS, random_seed=11)
        enrollments = len(seed["enrollments"])
        seed_path = tmp / "seed.json"
        seed_path.write_text(json.dumps(seed))
        roster = tmp / "enrollments.csv"
        config_path = tmp / "reconcile.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "canvas": {"account_id": "1", "report_timeout": 600},
                    "guards": {"max_drops": 100000, "max_drop_percent": 100},
                    "state_dir": str(tmp / "state"),
                }
            ),
            encoding="utf-8",
        )
        with simulator_process(seed_path, "--throttle", "off", "--report-delay", str(REPORT_DELAY)) as server:
            url = server.url
            _export(url, roster)
            changed = _churn(roster, seed=11)
            courses = _plan(url, roster, config_path, "courses")
            report = _plan(url, roster, config_path, "report")
    return _markdown(courses, report, enrollments=enrollments, changed=changed)


def _markdown(courses: dict[str, Any], report: dict[str, Any], *, enrollments: int, changed: int) -> str:
    share = report["requests"] / courses["requests"]
    inventory = report["inventory"]
    same = courses["ops"] == report["ops"]
    lines = [
        "## Inventory: course by course vs the provisioning report (`bench/inventory.py`)",
        "",
        f"Simulator in its own process: {COURSES:,} courses, {enrollments:,} enrollments, "
        f"{LATENCY_MS:.0f} ms latency, Canvas's throttle on (hwm 600, outflow 10/s, 50 up front) at "
        f"{COST['request_cost']} + {COST['item_cost']}/item per request; the report takes "
        f"{REPORT_DELAY:.0f} s to generate. Roster: the account's own export, changed in {changed} "
        f"courses ({CHURN:.0%}). Each plan on a freshly reset simulator, 8 requests in flight at most.",
        "",
        "| inventory | wall | requests | enrollment list requests | throttled | Σ request cost | operations |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, figures in (("courses", courses), ("report", report)):
        lines.append(
            f"| {name} | {figures['wall']:.1f} s | {figures['requests']:,} | {figures['enrollment_lists']:,} | "
            f"{figures['throttled']:,} | {figures['cost']:,.0f} | {len(figures['ops']):,} |"
        )
    lines += [
        "",
        f"The report plan made **{share:.1%}** of the course-by-course plan's requests (target ≤ 15%) in "
        f"**{report['wall'] / courses['wall']:.2f}x** its wall time (target < 1, generation delay included). "
        f"It confirmed {inventory.get('courses_confirmed', 0):,} course(s) through the Enrollments API "
        f"({_reasons(inventory)}) and took {inventory.get('courses_in_sync_by_report', 0):,} as in sync from "
        f"the report. Requests by phase: {inventory.get('requests', {})}. "
        f"Operations equal, op for op: **{'yes' if same else 'NO'}**.",
    ]
    return "\n".join(lines)


def _reasons(inventory: dict[str, Any]) -> str:
    because = inventory.get("confirmed_because") or {}
    return "; ".join(f"{n} because {why}" for why, n in because.items()) or "none"
