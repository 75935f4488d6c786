"""Applying a plan (DESIGN §7): lock, stale check, guards, journaled concurrent execution.

Entry point: :func:`apply_plan`. The journal (:mod:`reconcile.apply.journal`) records
every run and operation in SQLite in the state dir; ``reconcile history`` reads it.
"""

from __future__ import annotations

from reconcile.apply.engine import (
    ApplyResult,
    GuardTripped,
    RefreshDeclined,
    StalePlan,
    WrongCanvas,
    apply_plan,
)
from reconcile.apply.executor import Outcome, Sender
from reconcile.apply.journal import Journal
from reconcile.apply.lock import ApplyLock, LockHeld

__all__ = [
    "ApplyLock",
    "ApplyResult",
    "GuardTripped",
    "Journal",
    "LockHeld",
    "Outcome",
    "RefreshDeclined",
    "Sender",
    "StalePlan",
    "WrongCanvas",
    "apply_plan",
]
