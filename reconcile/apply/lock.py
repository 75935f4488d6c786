"""One apply at a time per Canvas URL and account, through a lock folder: the state dir,
or ``lock.path`` when several runners (each with its own state dir) share one. The lock
covers exactly the applies that use that folder; an apply from another state dir without
the shared ``lock.path`` is not stopped by it (apply's re-check of each course just
before its first write still notices another plan's writes there: reconcile.apply.engine).

The lock is an OS file lock (``filelock``, i.e. ``fcntl.flock`` on POSIX): the kernel
releases it when the holding process dies, so a lock left by a killed apply is simply
free for the next one; nothing has to guess whether a pid is still alive. Who holds it
is written to a side file after acquiring, so a refused apply can say pid, host, user
and since when. The side file of a dead holder is stale but harmless: it is only read
while the lock is actually held, and the next holder overwrites it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from reconcile.apply.journal import utc_now


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock."""

    pid: int | None
    host: str | None
    user: str | None
    since: str | None
    plan_id: str | None = None

    def describe(self) -> str:
        """``pid 123 on host as user since 2026-...`` with unknown parts left out."""
        parts = []
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.host:
            parts.append(f"on {self.host}")
        if self.user:
            parts.append(f"as {self.user}")
        if self.since:
            parts.append(f"since {self.since}")
        if self.plan_id:
            parts.append(f"(plan {self.plan_id})")
        return " ".join(parts) or "an unknown process"


class LockHeld(Exception):
    """Another apply holds the lock for this Canvas URL and account."""

    def __init__(self, holder: Holder, *, path: Path) -> None:
        self.holder = holder
        self.path = path
        super().__init__(f"another apply holds the lock: {holder.describe()}")


class StateDirUnusable(Exception):
    """The state dir cannot be created or written: a file in the way, no permission, a
    read-only file system. ``path`` is the folder, ``reason`` the system's word for why."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot use the state dir {path}: {reason}")


def who() -> dict[str, Any]:
    """The current process's identity, as recorded in locks and journal runs."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = None
    return {"pid": os.getpid(), "host": socket.gethostname(), "user": user}


def lock_key(canvas_url: str | None, account: str) -> str:
    """A short stable key for (Canvas URL, account), usable in a file name."""
    text = f"{(canvas_url or '').rstrip('/').lower()}|{account}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ApplyLock:
    """The apply lock of one state dir for one Canvas URL and account.

    ``with ApplyLock(...).acquire(timeout=0, plan_id=...):`` takes it or raises
    :class:`LockHeld` naming the holder. ``timeout`` is in seconds; 0 fails fast.
    """

    def __init__(self, state_dir: str | Path, *, canvas_url: str | None, account: str = "self") -> None:
        key = lock_key(canvas_url, account)
        self.dir = Path(state_dir)
        self.path = self.dir / f"apply-{key}.lock"
        self.info_path = self.dir / f"apply-{key}.holder.json"
        self.canvas_url = canvas_url
        self._lock = filelock.FileLock(str(self.path), thread_local=False)

    def acquire(self, *, timeout: float = 0, plan_id: str | None = None) -> ApplyLock:
        """Take the lock, waiting up to ``timeout`` seconds; raises :class:`LockHeld`."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            # filelock treats a negative timeout as "wait forever"; 0 means one try.
            self._lock.acquire(timeout=max(timeout, 0), poll_interval=0.05)
        except filelock.Timeout:
            raise LockHeld(self.holder(), path=self.path) from None
        except OSError as exc:
            raise StateDirUnusable(self.dir, exc.strerror or str(exc)) from exc
        info = {**who(), "since": utc_now(), "plan_id": plan_id, "canvas_url": self.canvas_url}
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, self.info_path)
        return self

    def release(self) -> None:
        """Release the lock (the holder file stays, marked by the lock being free)."""
        if self._lock.is_locked:
            self._lock.release()

    @property
    def is_held(self) -> bool:
        """True while this object holds the lock."""
        return self._lock.is_locked

    def holder(self) -> Holder:
        """The last recorded holder (meaningful while someone holds the lock)."""
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Holder(pid=None, host=None, user=None, since=None)
        return Holder(
            pid=data.get("pid"),
            host=data.get("host"),
            user=data.get("user"),
            since=data.get("since"),
            plan_id=data.get("plan_id"),
        )

    def __enter__(self) -> ApplyLock:
        if not self.is_held:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RunMarker:
    """An OS file lock an apply holds for as long as its run lives (``run-<id>.lock`` in the
    state dir), so that anyone reading the journal can tell a run that is still going from
    one whose process was killed: the kernel frees the lock when the process dies.

    Nobody else ever waits for it; :func:`run_alive` only tries it. The file is removed on
    :meth:`release`; one left behind belongs to a dead run."""

    def __init__(self, state_dir: str | Path, run_id: str) -> None:
        self.path = marker_path(state_dir, run_id)
        self._lock = filelock.FileLock(str(self.path), thread_local=False)

    def hold(self) -> RunMarker:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=5)
        except filelock.Timeout:  # nobody holds another run's marker; this cannot happen
            raise RuntimeError(f"run marker {self.path} is held by another process") from None
        except OSError as exc:
            raise StateDirUnusable(self.path.parent, exc.strerror or str(exc)) from exc
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()
            self.path.unlink(missing_ok=True)


def marker_path(state_dir: str | Path, run_id: str) -> Path:
    return Path(state_dir) / f"run-{run_id}.lock"


def run_alive(state_dir: str | Path, run_id: str) -> bool:
    """True while the process of run ``run_id`` holds its marker (see :class:`RunMarker`).

    A run journaled as running without a marker, or whose marker is free, is dead."""
    path = marker_path(state_dir, run_id)
    if not path.exists():
        return False
    probe = filelock.FileLock(str(path), thread_local=False)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    except OSError:
        return False  # cannot even open it: nothing can hold it either
    probe.release()
    return False
