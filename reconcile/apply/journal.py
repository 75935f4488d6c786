"""The apply journal: an SQLite file in the state dir recording every run and operation.

Every operation is written *before* its request (``started``) and *after* its answer
(``done`` / ``failed`` / ``skipped``), so a run killed at any point can be resumed: done
operations are skipped, started ones re-checked. Rows are keyed by (plan id, operation
id), because operation ids are content hashes that a later plan may reuse.

One connection is shared by the worker threads behind a lock (SQLite allows one writer
at a time anyway); WAL mode keeps ``reconcile history`` readable while an apply runs.
The API token is never passed to this module, and responses are stored only as the
scalar fields of Canvas's enrollment JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOURNAL_FILE = "journal.sqlite"

PENDING = "pending"
STARTED = "started"
DONE = "done"
FAILED = "failed"
SKIPPED = "skipped"
HELD = "held"  # a removal held back by --hold-drops; a later run of the plan may still do it
STATUSES = (PENDING, STARTED, DONE, FAILED, SKIPPED, HELD)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    canvas_url TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    who TEXT NOT NULL,
    overrides TEXT NOT NULL DEFAULT '{}',
    outcome TEXT NOT NULL DEFAULT 'running',
    counts TEXT NOT NULL DEFAULT '{}',
    message TEXT
);
CREATE TABLE IF NOT EXISTS operations (
    plan_id TEXT NOT NULL,
    op_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    course TEXT NOT NULL,
    section TEXT,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    run_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    enrollment_id INTEGER,
    enrollment_state TEXT,
    response TEXT,
    error TEXT,
    note TEXT,
    started_at TEXT,
    ended_at TEXT,
    change TEXT,
    PRIMARY KEY (plan_id, op_id)
);
CREATE TABLE IF NOT EXISTS baselines (
    plan_id TEXT NOT NULL,
    course TEXT NOT NULL,
    enrollment_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (plan_id, course, enrollment_id)
);
CREATE TABLE IF NOT EXISTS baseline_courses (
    plan_id TEXT NOT NULL,
    course TEXT NOT NULL,
    PRIMARY KEY (plan_id, course)
);
CREATE INDEX IF NOT EXISTS operations_by_run ON operations (run_id);
"""


def utc_now() -> str:
    """Now, as ISO 8601 UTC with milliseconds (sortable as text)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class OperationRecord:
    """One journaled operation, as stored."""

    plan_id: str
    op_id: str
    seq: int
    action: str
    course: str
    section: str | None
    user: str
    role: str
    status: str
    run_id: str | None
    attempts: int
    enrollment_id: int | None
    enrollment_state: str | None
    response: dict[str, Any] | None
    error: str | None
    note: str | None
    started_at: str | None
    ended_at: str | None
    change: str | None = None  # what the operation changes, as the plan showed it ("end_at a -> b")


@dataclass(frozen=True)
class RunRecord:
    """One journaled run of ``reconcile apply``."""

    run_id: str
    plan_id: str
    canvas_url: str | None
    started_at: str
    ended_at: str | None
    who: dict[str, Any]
    overrides: dict[str, Any]
    outcome: str
    counts: dict[str, Any]
    message: str | None


def scalar_fields(response: Any) -> dict[str, Any] | None:
    """The top-level scalar fields of a Canvas JSON object (nested objects dropped), or None."""
    if not isinstance(response, Mapping):
        return None
    return {k: v for k, v in response.items() if v is None or isinstance(v, (str, int, float, bool))}


class Journal:
    """The journal file of one state dir. Safe to share between threads.

    Use as a context manager or call :meth:`close`. Writes commit immediately: a record
    that :meth:`mark_started` returned from is on disk before the request is sent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: we commit each statement ourselves; check_same_thread off
        # because the lock above serialises every use of the connection.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (the case we design for); only a
        # power cut can lose the last commits, and re-checking started operations covers that.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(operations)")}
        if "change" not in columns:  # a journal written before the column existed
            self._db.execute("ALTER TABLE operations ADD COLUMN change TEXT")

    @classmethod
    def in_state_dir(cls, state_dir: str | Path) -> Journal:
        """The journal of ``state_dir`` (created if missing)."""
        return cls(Path(state_dir) / JOURNAL_FILE)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- runs -----------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        *,
        plan_id: str,
        canvas_url: str | None,
        who: Mapping[str, Any],
        overrides: Mapping[str, Any],
    ) -> None:
        """Record a run as begun (outcome ``running`` until :meth:`end_run`)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (run_id, plan_id, canvas_url, started_at, who, overrides) VALUES (?,?,?,?,?,?)",
                (run_id, plan_id, canvas_url, utc_now(), _dumps(who), _dumps(overrides)),
            )

    def end_run(
        self, run_id: str, *, outcome: str, counts: Mapping[str, Any], message: str | None = None
    ) -> None:
        """Record a run's end, its outcome and its counts."""
        with self._lock:
            self._db.execute(
                "UPDATE runs SET ended_at=?, outcome=?, counts=?, message=? WHERE run_id=?",
                (utc_now(), outcome, _dumps(counts), message, run_id),
            )

    def runs(self, *, limit: int = 50) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> RunRecord | None:
        """The run ``run_id`` (a unique prefix is enough), or None."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE run_id = ? OR run_id LIKE ? ORDER BY started_at",
                (run_id, run_id + "%"),
            ).fetchall()
        exact = [r for r in rows if r["run_id"] == run_id]
        if exact:
            return _run(exact[0])
        return _run(rows[0]) if len(rows) == 1 else None

    # -- operations -----------------------------------------------------------------

    def register_operations(self, plan_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert the plan's operations as ``pending``, keeping any already recorded."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO operations"
                    " (plan_id, op_id, seq, action, course, section, user, role, status, change)"
                    " VALUES (:plan_id, :op_id, :seq, :action, :course, :section, :user, :role, 'pending', :change)",
                    [{"plan_id": plan_id, "change": None, **row} for row in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def operations(self, plan_id: str) -> dict[str, OperationRecord]:
        """Every journaled operation of ``plan_id``, by operation id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM operations WHERE plan_id=? ORDER BY seq", (plan_id,)
            ).fetchall()
        return {row["op_id"]: _operation(row) for row in rows}

    def operations_of_run(self, run_id: str) -> list[OperationRecord]:
        """The operations a run last touched, in the order they started."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM operations WHERE run_id=? ORDER BY started_at IS NULL, started_at, seq",
                (run_id,),
            ).fetchall()
        return [_operation(row) for row in rows]

    def mark_started(self, plan_id: str, op_id: str, *, run_id: str) -> None:
        """Record that the operation's request is about to be sent (committed on return)."""
        with self._lock:
            self._db.execute(
                "UPDATE operations SET status='started', run_id=?, attempts=attempts+1, started_at=?,"
                " ended_at=NULL, error=NULL, note=NULL WHERE plan_id=? AND op_id=?",
                (run_id, utc_now(), plan_id, op_id),
            )

    def mark_finished(
        self,
        plan_id: str,
        op_id: str,
        *,
        run_id: str,
        status: str,
        response: Any = None,
        error: str | None = None,
        note: str | None = None,
    ) -> None:
        """Record an operation's outcome (done, failed, skipped or held) and Canvas's answer."""
        if status not in (DONE, FAILED, SKIPPED, HELD):
            raise ValueError(f"not a final status: {status}")
        fields = scalar_fields(response)
        enrollment_id = fields.get("id") if fields else None
        state = fields.get("enrollment_state") if fields else None
        with self._lock:
            self._db.execute(
                "UPDATE operations SET status=?, run_id=?, response=COALESCE(?, response),"
                " enrollment_id=COALESCE(?, enrollment_id), enrollment_state=COALESCE(?, enrollment_state),"
                " error=?, note=?, ended_at=? WHERE plan_id=? AND op_id=?",
                (
                    status,
                    run_id,
                    _dumps(fields) if fields is not None else None,
                    enrollment_id if isinstance(enrollment_id, int) else None,
                    state if isinstance(state, str) else None,
                    error,
                    note,
                    utc_now(),
                    plan_id,
                    op_id,
                ),
            )

    # -- baselines (see reconcile.apply.stale) ------------------------------------------

    def save_baseline(self, plan_id: str, digests: Mapping[str, Mapping[int, str]]) -> None:
        """Store, per course, the digest of every enrollment as seen before the first write."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM baselines WHERE plan_id=?", (plan_id,))
                self._db.execute("DELETE FROM baseline_courses WHERE plan_id=?", (plan_id,))
                self._db.executemany(
                    "INSERT INTO baseline_courses (plan_id, course) VALUES (?,?)",
                    [(plan_id, course) for course in digests],
                )
                self._db.executemany(
                    "INSERT INTO baselines (plan_id, course, enrollment_id, digest) VALUES (?,?,?,?)",
                    [
                        (plan_id, course, int(eid), digest)
                        for course, rows in digests.items()
                        for eid, digest in rows.items()
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def baseline(self, plan_id: str) -> dict[str, dict[int, str]] | None:
        """The stored baseline of ``plan_id``, or None when no run of it got that far."""
        with self._lock:
            courses = self._db.execute(
                "SELECT course FROM baseline_courses WHERE plan_id=?", (plan_id,)
            ).fetchall()
            if not courses:
                return None
            rows = self._db.execute(
                "SELECT course, enrollment_id, digest FROM baselines WHERE plan_id=?", (plan_id,)
            ).fetchall()
        out: dict[str, dict[int, str]] = {row["course"]: {} for row in courses}
        for row in rows:
            out[row["course"]][int(row["enrollment_id"])] = row["digest"]
        return out


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _operation(row: sqlite3.Row) -> OperationRecord:
    return OperationRecord(
        plan_id=row["plan_id"],
        op_id=row["op_id"],
        seq=row["seq"],
        action=row["action"],
        course=row["course"],
        section=row["section"],
        user=row["user"],
        role=row["role"],
        status=row["status"],
        run_id=row["run_id"],
        attempts=row["attempts"],
        enrollment_id=row["enrollment_id"],
        enrollment_state=row["enrollment_state"],
        response=_loads(row["response"]),
        error=row["error"],
        note=row["note"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        change=row["change"],
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        plan_id=row["plan_id"],
        canvas_url=row["canvas_url"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        who=_loads(row["who"]) or {},
        overrides=_loads(row["overrides"]) or {},
        outcome=row["outcome"],
        counts=_loads(row["counts"]) or {},
        message=row["message"],
    )
