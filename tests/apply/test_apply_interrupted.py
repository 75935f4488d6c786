"""A run whose process died is shown as interrupted, and the run that resumes it links to it.

The run's marker lock (reconcile.apply.lock.RunMarker) is what tells: the kernel frees it
when the process dies, whatever killed it. A real apply process is SIGKILLed mid-run here.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apply_world import ROOT, config_for, plan_live, sim_env, write_config
from click.testing import CliRunner

from reconcile.apply import Journal
from reconcile.apply.lock import RunMarker, run_alive
from reconcile.canvas import CanvasClient
from reconcile.cli import cli
from reconcile.plan import plan_to_json

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"


def _done(journal_path: Path) -> int:
    if not journal_path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT count(*) FROM operations WHERE status='done'").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_run_marker_tells_a_live_run_from_a_dead_one(tmp_path: Path) -> None:
    assert not run_alive(tmp_path, "r1")  # no marker: not running
    marker = RunMarker(tmp_path, "r1").hold()
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from reconcile.apply.lock import run_alive; print(run_alive(*sys.argv[1:]))",
            str(tmp_path),
            "r1",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert probe.stdout.strip() == "True"  # another process sees it held
    marker.release()
    assert not run_alive(tmp_path, "r1") and not marker.path.exists()


@pytest.mark.slow
def test_a_killed_apply_is_shown_interrupted_and_the_resuming_run_links_to_it(
    university, tmp_path: Path
) -> None:
    config_path = write_config(
        tmp_path / "reconcile.yaml",
        url=university.url,
        state_dir=tmp_path / "state",
        extra="roster:\n  custom_roles:\n    Grader: ta\n",
    )
    with CanvasClient(university.url, university.token) as client:
        plan = plan_live([ROSTER], config=config_for(config_path, university.url), client=client)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_to_json(plan), encoding="utf-8")
    env = sim_env(university.url, university.token)
    cmd = [sys.executable, "-m", "reconcile", "apply", str(plan_path), "-c", str(config_path)]
    university.simulator.set_faults(latency_ms=400)  # slow enough to be killed mid-run
    victim = subprocess.Popen(
        [*cmd, "--parallelism", "1"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    journal_path = tmp_path / "state" / "journal.sqlite"
    deadline = time.monotonic() + 60
    while _done(journal_path) < 2 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
    assert victim.poll() is None, "the apply finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    university.simulator.set_faults(latency_ms=0)

    def history(*args: str) -> str:
        result = CliRunner().invoke(cli, ["history", "-c", str(config_path), *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    with Journal.in_state_dir(tmp_path / "state") as journal:
        (killed,) = journal.runs()
    assert killed.outcome == "running"  # what the journal itself still says
    listing = history()
    assert f"{killed.run_id}" in listing and "interrupted" in listing and "running" not in listing
    detail = json.loads(history("--run", killed.run_id, "--output", "json"))
    assert detail["outcome"] == "interrupted" and "killed" in detail["message"]

    resumed = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    with Journal.in_state_dir(tmp_path / "state") as journal:
        latest, earlier = journal.runs()
    assert earlier.run_id == killed.run_id and earlier.outcome == "interrupted"  # now recorded so
    assert latest.overrides["resumes"] == killed.run_id
    listing = history()
    assert f"resumes {killed.run_id}" in listing and f"resumed by {latest.run_id}" in listing
    assert f"resumed  by {latest.run_id}" in history("--run", killed.run_id)
    assert not list((tmp_path / "state").glob("run-*.lock"))  # the dead run's marker is cleared too
