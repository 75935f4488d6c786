"""The apply lock (fail fast, holder info, dead holders) and the journal's records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconcile.apply import journal as jr
from reconcile.apply.lock import ApplyLock, LockHeld

HOLD = """
import sys, time
from reconcile.apply.lock import ApplyLock
lock = ApplyLock(sys.argv[1], canvas_url="http://127.0.0.1:1").acquire(plan_id="held-plan")
print("locked", flush=True)
time.sleep(60)
"""


def _holder(state_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(state_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_apply_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        began = time.monotonic()
        with pytest.raises(LockHeld) as info:
            ApplyLock(tmp_path, canvas_url="http://127.0.0.1:1").acquire()
        assert time.monotonic() - began < 1
        holder = info.value.holder
        assert holder.pid == proc.pid and holder.host and holder.since and holder.plan_id == "held-plan"
        assert f"pid {proc.pid}" in str(info.value)
        # another Canvas (or account) has its own lock
        ApplyLock(tmp_path, canvas_url="http://127.0.0.1:2").acquire().release()
    finally:
        proc.kill()
        proc.wait()


def test_lock_timeout_waits_for_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    subprocess.Popen([sys.executable, "-c", f"import time, os; time.sleep(0.5); os.kill({proc.pid}, 15)"])
    lock = ApplyLock(tmp_path, canvas_url="http://127.0.0.1:1").acquire(timeout=10)
    assert lock.is_held
    lock.release()
    proc.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lock = ApplyLock(tmp_path, canvas_url="http://127.0.0.1:1").acquire(plan_id="mine")
    assert lock.holder().pid == os.getpid() and lock.holder().plan_id == "mine"
    lock.release()


def test_journal_survives_reopening_and_lists_runs(tmp_path: Path) -> None:
    with jr.Journal.in_state_dir(tmp_path) as journal:
        journal.start_run(
            "r1", plan_id="p", canvas_url="http://x", who={"user": "u"}, overrides={"allow_drops": True}
        )
        journal.register_operations(
            "p",
            [
                {
                    "op_id": "a",
                    "seq": 0,
                    "action": "enroll",
                    "course": "C",
                    "section": None,
                    "user": "u1",
                    "role": "StudentEnrollment",
                }
            ],
        )
        journal.mark_started("p", "a", run_id="r1")
    with jr.Journal.in_state_dir(tmp_path) as journal:
        record = journal.operations("p")["a"]
        assert record.status == "started" and record.attempts == 1 and record.started_at
        journal.mark_finished(
            "p",
            "a",
            run_id="r1",
            status="done",
            response={"id": 7, "enrollment_state": "active", "user": {"name": "x"}},
        )
        journal.end_run("r1", outcome="ok", counts={"enroll": {"applied": 1}})
        run = journal.run("r1")
        assert (
            run is not None
            and run.outcome == "ok"
            and run.overrides == {"allow_drops": True}
            and run.ended_at
        )
        assert journal.run("r") is not None  # unique prefix
        assert [o.op_id for o in journal.operations_of_run("r1")] == ["a"]
        done = journal.operations("p")["a"]
        assert done.enrollment_id == 7 and done.response == {"id": 7, "enrollment_state": "active"}
        with pytest.raises(ValueError):
            journal.mark_finished("p", "a", run_id="r1", status="started")
    assert (tmp_path / jr.JOURNAL_FILE).exists()


def test_journal_baseline_round_trip(tmp_path: Path) -> None:
    with jr.Journal.in_state_dir(tmp_path) as journal:
        assert journal.baseline("p") is None
        journal.save_baseline("p", {"C1": {1: "aa", 2: "bb"}, "C2": {}})
        assert journal.baseline("p") == {"C1": {1: "aa", 2: "bb"}, "C2": {}}


def test_a_journal_from_before_the_change_column_opens_and_gains_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    path = tmp_path / "journal.sqlite"
    old = sqlite3.connect(path)
    old.executescript(jr._SCHEMA.replace("    change TEXT,\n", ""))  # the schema as it was
    old.execute(
        "INSERT INTO operations (plan_id, op_id, seq, action, course, section, user, role, status)"
        " VALUES ('p', 'o', 0, 'update', 'c', NULL, 'u', 'StudentEnrollment', 'pending')"
    )
    old.commit()
    old.close()
    with jr.Journal(path) as journal:
        assert journal.operations("p")["o"].change is None
        journal.register_operations(
            "p",
            [{"op_id": "o2", "seq": 1, "action": "update", "course": "c", "section": None, "user": "u",
              "role": "StudentEnrollment", "change": "end_at a -> b"}],
        )  # fmt: skip
        assert journal.operations("p")["o2"].change == "end_at a -> b"
