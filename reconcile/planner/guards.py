"""Safety guards (DESIGN §6), evaluated at plan time with their figures. Pure.

A guard counts *removals*: every conclude, inactivate or delete of a live enrollment
(active, invited, creation_pending, inactive; :func:`reconcile.plan.is_removal`), whatever
the reason: the row is absent from the roster, or the roster itself says completed,
inactive, deleted or deleted_last_completed. An SIS export that flips a whole term to
``deleted`` at rollover is exactly the accident to catch, so a stated status counts as
much as a missing row. The drop half of a move (enroll new, then drop old) is not counted.
Each guard's figures split its count by reason (``absent``, ``stated``), and the messages
say it ("38 of 40 managed enrollments would be removed; 36 because the roster marks them
deleted").

A tripped guard blocks apply unless overridden with ``--allow-drops``; ``--hold-drops``
applies everything else and holds the removals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.plan import DROP_ACTIONS, LIVE_STATES, Action, GuardResult, Operation, is_removal
from reconcile.planner.keys import among, factorize, words
from reconcile.planner.rules import LIVE
from reconcile.planner.scope import Scope

OVERRIDE = "--allow-drops"
SAMPLE = 10  # users named in a protected_roles guard
ABSENT = "absent_from_roster"
REVIVING = frozenset({Action.ENROLL, Action.RESTORE, Action.REACTIVATE})


def evaluate_guards(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    managed: np.ndarray,
    operations: tuple[Operation, ...],
    *,
    scope: Scope,
    config: Config,
    states: np.ndarray | None = None,
    course_codes: tuple[np.ndarray, np.ndarray] | None = None,
    roster_course_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[GuardResult, ...]:
    """Every guard's result: plan-wide ones always, per-course ones for courses with removals
    or emptied. ``course_codes`` / ``roster_course_codes``: :func:`~reconcile.planner.keys.factorize`
    of ``current["course_ref"]`` / ``desired["course"]``, when the caller has them."""
    settings = config.guards
    state = words(current["state"]) if states is None else states  # codes, when the caller has them
    live = managed & among(state, LIVE)
    base = _counts(course_codes or factorize(current["course_ref"]), live)
    roster_rows = _counts(roster_course_codes or factorize(desired["course"]), None)
    removals = [op for op in operations if is_removal(op)]
    by_course: dict[str, list[Operation]] = defaultdict(list)
    for op in removals:
        by_course[op.target.course].append(op)
    results: list[GuardResult] = []

    total_managed = int(live.sum())
    results.append(
        GuardResult(
            name="empty_roster",
            tripped=len(desired) == 0,
            figures={"roster_rows": len(desired), "managed_enrollments": total_managed},
            message=(
                f"the roster has no rows at all; applying would remove all {total_managed} managed enrollments"
                if len(desired) == 0
                else f"the roster has {len(desired)} rows"
            ),
            override=OVERRIDE,
        )
    )
    left = _live_after(base, operations)
    for course in scope.courses:
        had = base.get(course, 0)
        if had and left.get(course, had) <= 0 and len(desired):
            removed = by_course.get(course, [])
            results.append(
                GuardResult(
                    name="course_emptied",
                    tripped=True,
                    course=course,
                    figures={
                        "managed_enrollments": had,
                        "roster_rows": roster_rows.get(course, 0),
                        **_split(removed),
                    },
                    message=(
                        f"{course}: no live managed enrollment would be left of {had}"
                        + (
                            " (the roster has no rows for it)"
                            if not roster_rows.get(course, 0)
                            else f"; {_reasons(removed)}"
                        )
                    ),
                    override=OVERRIDE,
                )
            )
    for course in sorted(by_course):
        removed, had = by_course[course], base.get(course, 0)
        percent = round(100.0 * len(removed) / had, 1) if had else 100.0
        big_enough = had >= settings.min_course_size
        tripped = big_enough and percent > settings.max_drop_percent
        results.append(
            GuardResult(
                name="max_drop_percent",
                tripped=tripped,
                course=course,
                figures={
                    **_split(removed),
                    "managed_enrollments": had,
                    "percent": percent,
                    "max_drop_percent": settings.max_drop_percent,
                    "min_course_size": settings.min_course_size,
                },
                message=(
                    f"{course}: {len(removed)} of {counted(had, 'managed enrollment')} would be removed "
                    f"({percent}%, limit {settings.max_drop_percent}%); {_reasons(removed)}"
                    + ("" if big_enough else f"; not enforced below {settings.min_course_size} enrollments")
                ),
                override=OVERRIDE,
            )
        )
    results.append(
        GuardResult(
            name="max_drops",
            tripped=len(removals) > settings.max_drops,
            figures={**_split(removals), "max_drops": settings.max_drops},
            message=(
                f"{counted(len(removals), 'enrollment')} would be removed in total (limit {settings.max_drops})"
                + (f"; {_reasons(removals)}" if removals else "")
            ),
            override=OVERRIDE,
        )
    )
    protected = [op for op in removals if op.target.role in settings.protected_roles]
    by_role: dict[str, list[str]] = defaultdict(list)
    for op in protected:
        by_role[op.target.role].append(f"{op.target.user} in {op.target.course}")
    sample = sorted(u for users in by_role.values() for u in users)[:SAMPLE]
    results.append(
        GuardResult(
            name="protected_roles",
            tripped=bool(protected),
            figures={
                **_split(protected),
                "protected_roles": list(settings.protected_roles),
                "by_role": {role: len(users) for role, users in sorted(by_role.items())},
                "sample": sample,
            },
            message=(
                f"{counted(len(protected), 'enrollment')} in protected roles would be removed "
                f"({_reasons(protected)}): " + ", ".join(sample)
                if protected
                else "no protected-role enrollment is removed"
            ),
            override=OVERRIDE,
        )
    )
    return tuple(results)


def counted(n: int, singular: str) -> str:
    return f"{n} {singular if n == 1 else singular + 's'}"


def _split(removals: Iterable[Operation]) -> dict[str, object]:
    """A guard's figures by reason: how many removals, how many absent from the roster, how many
    the roster states (and, of those, per resulting state)."""
    items = list(removals)
    absent = sum(op.reason == ABSENT for op in items)
    stated = Counter(str((op.after or {}).get("state")) for op in items if op.reason != ABSENT)
    return {
        "removals": len(items),
        "absent": absent,
        "stated": sum(stated.values()),
        "stated_by_state": dict(sorted(stated.items())),
    }


def _reasons(removals: Iterable[Operation]) -> str:
    """ "36 because the roster marks them deleted, 2 absent from the roster" (largest first)."""
    items = list(removals)
    parts: list[tuple[int, str]] = []
    absent = sum(op.reason == ABSENT for op in items)
    if absent:
        parts.append((absent, f"{absent} absent from the roster"))
    stated = Counter(str((op.after or {}).get("state")) for op in items if op.reason != ABSENT)
    for state, n in stated.items():
        parts.append((n, f"{n} because the roster marks {'it' if n == 1 else 'them'} {_status(state)}"))
    return ", ".join(text for _, text in sorted(parts, key=lambda p: -p[0])) or "none"


def _status(state: str) -> str:
    return {"completed": "completed", "inactive": "inactive", "deleted": "deleted"}.get(state, state)


def _live_after(base: dict[str, int], operations: Iterable[Operation]) -> dict[str, int]:
    """Live managed enrollments per course once the plan ran: those there now, less every drop of a
    live row (move halves included), plus every enroll, restore or reactivate into a live state."""
    left = dict(base)
    for op in operations:
        course = op.target.course
        before = (op.before or {}).get("state")
        after = (op.after or {}).get("state")
        if op.action in DROP_ACTIONS and before in LIVE_STATES:
            left[course] = left.get(course, 0) - 1
        elif op.action in REVIVING and after in LIVE_STATES and before not in LIVE_STATES:
            left[course] = left.get(course, 0) + 1
    return left


def _counts(factorized: tuple[np.ndarray, np.ndarray], mask: np.ndarray | None) -> dict[str, int]:
    """Rows per value of a factorized column (optionally only where ``mask``), via integer codes:
    value_counts on a million Python strings is several times slower."""
    codes, names = factorized
    if mask is not None:
        codes = codes[mask]
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    return {str(name): int(n) for name, n in zip(names.tolist(), counts.tolist(), strict=True) if n}
