"""Apply under faults (5xx, dropped connections, throttle) and SIGKILL at random points."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from apply_world import (
    ROOT,
    config_for,
    plan_live,
    sim_env,
    sim_get,
    sim_process,
    synthetic_roster,
    write_config,
    write_roster,
)

from reconcile.apply import Journal, apply_plan
from reconcile.canvas import CanvasClient
from reconcile.plan import plan_to_json
from reconcile.sim import Simulator
from reconcile.sim.generate import ADMIN_TOKEN, generate

pytestmark = pytest.mark.slow


def _identity(row: dict) -> tuple:
    return (row["user_id"], row["type"], row["role_id"], row["course_section_id"], row["associated_user_id"])


def _assert_no_duplicates(rows: list[dict]) -> None:
    counts = Counter(_identity(r) for r in rows)
    assert [k for k, n in counts.items() if n > 1] == []


def test_two_thousand_operations_converge_under_5xx_drops_and_throttle(tmp_path: Path) -> None:
    seed = generate(courses=170, students_per_course=40, sections_per_course=2, random_seed=3)
    roster = write_roster(synthetic_roster(seed), tmp_path / "enrollments.csv")
    simulator = Simulator.from_seed(seed)
    with simulator.serve() as url:
        config = config_for(
            write_config(tmp_path / "reconcile.yaml", url=url, state_dir=tmp_path / "state"), url
        )
        with CanvasClient(url, ADMIN_TOKEN, concurrency=16, retries=8) as client:
            plan = plan_live([roster], config=config, client=client)
            assert len(plan.operations) >= 2000
            assert any(op.depends_on for op in plan.operations)
            # Canvas's own throttle (its default bucket) stays on; a request costs what a
            # cheap write costs in Canvas (about 20 ms of work), so the bucket fills only
            # from the 50-unit reservation of each request in flight.
            simulator.set_faults(error_rate=0.10, drop_rate=0.02, request_cost=0.02, seed=11)
            assert simulator.fault_knobs()["throttle"] is True
            result = apply_plan(plan, client=client, config=config, parallelism=16)
            faults = simulator.stats()["faults"]
            assert faults["errors"] > 100 and faults["drops"] > 20  # the faults really happened
            if result.exit_code != 0:  # a request that failed every retry: running again must finish it
                result = apply_plan(plan, client=client, config=config, parallelism=16)
            assert result.exit_code == 0, [o.error for o in result.failures][:5]
            simulator.set_faults(error_rate=0.0, drop_rate=0.0)
            assert plan_live([roster], config=config, client=client).operations == ()
    _assert_no_duplicates(simulator.enrollments())
    with Journal.in_state_dir(tmp_path / "state") as journal:
        records = journal.operations(plan.plan_id)
    assert len(records) == len(plan.operations)
    assert {r.status for r in records.values()} == {"done"}


def _done_count(journal_path: Path, plan_id: str) -> int:
    if not journal_path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute(
                "SELECT count(*) FROM operations WHERE plan_id=? AND status='done'", (plan_id,)
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


def test_sigkill_at_random_points_then_rerun_converges_with_each_write_once(tmp_path: Path) -> None:
    seed = generate(courses=45, students_per_course=40, sections_per_course=2, random_seed=5)
    seed_path = tmp_path / "seed.json"
    seed_path.write_text(json.dumps(seed))
    roster = write_roster(synthetic_roster(seed, random_seed=2), tmp_path / "enrollments.csv")
    rng = random.Random(1234)
    parallelism = 8
    with sim_process(seed_path, "--latency-ms", "15", "--request-cost", "0.02") as url:
        config_path = write_config(
            tmp_path / "reconcile.yaml", url=url, state_dir=tmp_path / "state", concurrency=parallelism
        )
        config = config_for(config_path, url)
        with CanvasClient(url, ADMIN_TOKEN) as client:
            plan = plan_live([roster], config=config, client=client)
        n = len(plan.operations)
        assert n >= 400
        plan_path = tmp_path / "plan.json"
        plan_path.write_text(plan_to_json(plan))
        cmd = [sys.executable, "-m", "reconcile", "apply", str(plan_path), "-c", str(config_path)]
        env = sim_env(url, ADMIN_TOKEN)
        journal_path = tmp_path / "state" / "journal.sqlite"
        writes_before = sim_get(url, "/__sim/stats")["writes"]
        kills = 0
        for target in sorted(rng.sample(range(n // 20, n * 9 // 10), 3)):
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while proc.poll() is None and _done_count(journal_path, plan.plan_id) < target:
                assert time.monotonic() < deadline, "apply made no progress"
                time.sleep(rng.uniform(0.005, 0.05))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            assert proc.returncode in (-signal.SIGKILL, 0)
        assert kills >= 2, "the applies finished before they could be killed"
        final = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stdout + final.stderr
        assert "resumed" in final.stdout
        writes = sim_get(url, "/__sim/stats")["writes"] - writes_before
        # each operation was written once, plus at most the requests in flight at each kill
        assert n <= writes <= n + kills * parallelism
        with CanvasClient(url, ADMIN_TOKEN) as client:
            assert plan_live([roster], config=config, client=client).operations == ()
        _assert_no_duplicates(sim_get(url, "/__sim/enrollments"))
    with Journal.in_state_dir(tmp_path / "state") as journal:
        records = journal.operations(plan.plan_id)
        outcomes = [r.outcome for r in journal.runs()]
    assert {r.status for r in records.values()} == {"done"} and len(records) == n
    # killed runs never ended; the next apply found their run markers free and recorded them so
    assert outcomes.count("interrupted") == kills and outcomes[0] == "ok"
