"""The journal's one query surface for ownership, drift and undo.

Two questions, asked in one place instead of each feature writing its own SQL:

- *What did run R do to enrollment E?* :meth:`Ledger.run_effects` pairs each operation a
  run finished with the operation as planned (its ``before``, ``after`` and target), read
  from the plan document stored when the run began (:meth:`Ledger.remember_plan`).
- *What did we last leave there?* :meth:`Ledger.last_left` gives, per enrollment id, the
  newest of: Canvas's answer to the tool's last operation on it (the journal's stored
  response, i.e. the enrollment after the write), or the state the tool observed when it
  claimed the enrollment without writing it (:meth:`Ledger.observe`).

Besides the journal's own tables it keeps three, in the same SQLite file: ``ledger_plans``
(each executed plan, compressed), ``ledger_observations`` and ``ledger_courses`` (per
course, the newest ``created_at`` Canvas showed when the tool last read the course, so a
later unclaimed enrollment is known to have appeared since). Nothing here talks to
Canvas; the API token never reaches it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconcile.apply import journal as jr
from reconcile.plan import Operation, Plan, plan_from_dict, plan_to_dict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_plans (
    plan_id TEXT PRIMARY KEY,
    undoes TEXT,
    document BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_observations (
    enrollment_id INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    course TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (enrollment_id, run_id)
);
CREATE TABLE IF NOT EXISTS ledger_courses (
    course TEXT NOT NULL,
    run_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    created_through TEXT,
    PRIMARY KEY (course, run_id)
);
"""

# The enrollment fields drift and undo compare, as Canvas names them in its JSON (facts §6.1).
SNAPSHOT_FIELDS = (
    "id",
    "course_id",
    "course_section_id",
    "user_id",
    "type",
    "role",
    "role_id",
    "enrollment_state",
    "start_at",
    "end_at",
    "limit_privileges_to_course_section",
    "associated_user_id",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class Left:
    """What the tool last left in one enrollment: Canvas's JSON fields (:data:`SNAPSHOT_FIELDS`),
    when, by which run, and whether it was the tool's own write (``operation``) or an
    observation made when claiming (``observed``)."""

    enrollment_id: int
    snapshot: Mapping[str, Any]
    at: str
    run_id: str | None
    source: str  # operation | observed

    @property
    def state(self) -> str | None:
        value = self.snapshot.get("enrollment_state")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class Effect:
    """One operation a run finished: as planned, and as journaled (with Canvas's answer)."""

    operation: Operation
    record: jr.OperationRecord


def snapshot(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of a Canvas enrollment JSON object (missing ones as None)."""
    return {name: fields.get(name) for name in SNAPSHOT_FIELDS}


class Ledger:
    """The ledger of one state dir's journal. Use as a context manager or call :meth:`close`."""

    def __init__(self, journal: jr.Journal, *, own: bool = False) -> None:
        self.journal = journal
        self._own = own  # close the journal too (it was opened for this ledger)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> Ledger:
        """The ledger of ``state_dir`` (the journal is created if missing)."""
        return cls(jr.Journal.in_state_dir(state_dir), own=True)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._own:
            self.journal.close()

    # -- writes -----------------------------------------------------------------------

    def remember_plan(self, plan: Plan) -> None:
        """Store the plan a run is about to execute (once per plan id)."""
        undo = plan.policy.get("undo") if isinstance(plan.policy, Mapping) else None
        undoes = str(undo.get("run_id")) if isinstance(undo, Mapping) and undo.get("run_id") else None
        document = zlib.compress(json.dumps(plan_to_dict(plan), sort_keys=True).encode("utf-8"), 6)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO ledger_plans (plan_id, undoes, document) VALUES (?,?,?)",
                (plan.plan_id, undoes, document),
            )

    def observe(self, run_id: str, rows: Iterable[tuple[int, str, Mapping[str, Any]]], *, at: str) -> None:
        """Record ``(enrollment id, course ref, Canvas fields)`` as observed by ``run_id`` at ``at``."""
        values = [
            (int(eid), run_id, str(course), at, json.dumps(snapshot(fields), sort_keys=True, default=str))
            for eid, course, fields in rows
        ]
        if not values:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO ledger_observations"
                    " (enrollment_id, run_id, course, observed_at, snapshot) VALUES (?,?,?,?,?)",
                    values,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def saw_courses(self, run_id: str, created_through: Mapping[str, str | None], *, at: str) -> None:
        """Record that ``run_id`` read these courses, and the newest ``created_at`` in each
        (None for a course with no enrollments)."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO ledger_courses (course, run_id, observed_at, created_through)"
                " VALUES (?,?,?,?)",
                [(course, run_id, at, newest) for course, newest in created_through.items()],
            )

    # -- queries ----------------------------------------------------------------------

    def plan(self, plan_id: str) -> Plan | None:
        """The executed plan ``plan_id`` as stored, or None."""
        with self._lock:
            row = self._db.execute("SELECT document FROM ledger_plans WHERE plan_id=?", (plan_id,)).fetchone()
        if row is None:
            return None
        return plan_from_dict(json.loads(zlib.decompress(row["document"]).decode("utf-8")))

    def run_effects(self, run_id: str) -> tuple[jr.RunRecord, Plan | None, list[Effect]]:
        """What run ``run_id`` (a unique prefix is enough) did: the run, its plan (None when the
        journal has none stored, e.g. a run by an older version) and each operation it
        finished successfully, in the order they ended. Raises KeyError for an unknown run."""
        run = self.journal.run(run_id)
        if run is None:
            raise KeyError(run_id)
        plan = self.plan(run.plan_id)
        if plan is None:
            return run, None, []
        by_id = {op.id: op for op in plan.operations}
        records = [
            r for r in self.journal.operations_of_run(run.run_id) if r.status == jr.DONE and r.op_id in by_id
        ]
        records.sort(key=lambda r: (r.ended_at or "", r.seq))
        return run, plan, [Effect(by_id[r.op_id], r) for r in records]

    def last_left(self, enrollment_ids: Iterable[int] | None = None) -> dict[int, Left]:
        """Per enrollment id, what the tool last left there (see the module docstring); ids
        with no record are absent. ``enrollment_ids`` None: every id the journal knows."""
        wanted = None if enrollment_ids is None else {int(i) for i in enrollment_ids}
        with self._lock:
            written = self._db.execute(
                "SELECT enrollment_id, response, ended_at, run_id FROM operations"
                " WHERE status='done' AND enrollment_id IS NOT NULL AND response IS NOT NULL"
            ).fetchall()
            observed = self._db.execute(
                "SELECT enrollment_id, snapshot, observed_at, run_id FROM ledger_observations"
            ).fetchall()
        out: dict[int, Left] = {}

        def offer(eid: int, fields: Any, at: str | None, run_id: str | None, source: str) -> None:
            if wanted is not None and eid not in wanted or not isinstance(fields, Mapping):
                return
            seen = out.get(eid)
            if seen is None or (at or "") >= seen.at:
                out[eid] = Left(eid, snapshot(fields), at or "", run_id, source)

        for row in observed:
            offer(
                int(row["enrollment_id"]),
                json.loads(row["snapshot"]),
                row["observed_at"],
                row["run_id"],
                "observed",
            )
        for row in written:
            offer(
                int(row["enrollment_id"]),
                json.loads(row["response"]),
                row["ended_at"],
                row["run_id"],
                "operation",
            )
        return out

    def courses_seen(self) -> dict[str, tuple[str, str | None]]:
        """Per course ref: when the tool last read it, and the newest ``created_at`` it saw then."""
        with self._lock:
            rows = self._db.execute(
                "SELECT course, observed_at, created_through FROM ledger_courses ORDER BY observed_at"
            ).fetchall()
        return {row["course"]: (row["observed_at"], row["created_through"]) for row in rows}

    def undone_by(self) -> dict[str, list[str]]:
        """Run id -> the runs that applied an undo plan of it, oldest first: runs of an undo plan
        that changed something (a resumed or an empty re-run of one is not listed again)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.undoes AS undoes, r.run_id AS run_id, r.counts AS counts FROM ledger_plans p"
                " JOIN runs r ON r.plan_id = p.plan_id WHERE p.undoes IS NOT NULL ORDER BY r.started_at"
            ).fetchall()
        out: dict[str, list[str]] = {}
        for row in rows:
            counts = json.loads(row["counts"] or "{}")
            wrote = any(
                isinstance(by, Mapping) and any(by.get(k) for k in ("applied", "verified", "already_held"))
                for by in counts.values()
            )
            if wrote:
                out.setdefault(row["undoes"], []).append(row["run_id"])
        return out
