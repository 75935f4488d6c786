"""Safety guards (DESIGN §6), evaluated at plan time with their figures. Pure.

A guard counts *drops*: managed enrollments the plan removes because they are absent
from the roster (conclude, inactivate or delete with reason absent_from_roster). Moves
and rows the roster itself marks inactive/completed/deleted are the roster's explicit
word and are not counted. A tripped guard blocks apply unless overridden with
``--allow-drops``.
"""

from __future__ import annotations

from collections import Counter, defaultdict  # noqa: F401

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.plan import DROP_ACTIONS, GuardResult, Operation
from reconcile.planner.keys import among, factorize, words
from reconcile.planner.rules import LIVE
from reconcile.planner.scope import Scope

OVERRIDE = "--allow-drops"
SAMPLE = 10  # users named in a protected_roles guard


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
    """Every guard's result: plan-wide ones always, per-course ones for courses with drops or emptied.
    ``course_codes`` / ``roster_course_codes``: :func:`~reconcile.planner.keys.factorize` of
    ``current["course_ref"]`` / ``desired["course"]``, when the caller has them."""
    settings = config.guards
    state = words(current["state"]) if states is None else states  # codes, when the caller has them
    live = managed & among(state, LIVE)
    base = _counts(course_codes or factorize(current["course_ref"]), live)
    roster_rows = _counts(roster_course_codes or factorize(desired["course"]), None)
    drops = [op for op in operations if op.action in DROP_ACTIONS and op.reason == "absent_from_roster"]
    drops_by_course = Counter(op.target.course for op in drops)
    results: list[GuardResult] = []

    total_managed = int(live.sum())
    results.append(
        GuardResult(
            name="empty_roster",
            tripped=len(desired) == 0,
            figures={"roster_rows": len(desired), "managed_enrollments": total_managed},
            message=(
                f"the roster has no rows at all; applying would drop all {total_managed} managed enrollments"
                if len(desired) == 0
                else f"the roster has {len(desired)} rows"
            ),
            override=OVERRIDE,
        )
    )
    for course in scope.courses:
        had = base.get(course, 0)
        if had and not roster_rows.get(course, 0) and len(desired):
            results.append(
                GuardResult(
                    name="course_emptied",
                    tripped=True,
                    course=course,
                    figures={"managed_enrollments": had, "roster_rows": 0},
                    message=f"{course} has {had} managed enrollments but no rows in the roster",
                    override=OVERRIDE,
                )
            )
    for course in sorted(drops_by_course):
        dropped, had = drops_by_course[course], base.get(course, 0)
        percent = round(100.0 * dropped / had, 1) if had else 100.0
        big_enough = had >= settings.min_course_size
        tripped = big_enough and percent > settings.max_drop_percent
        results.append(
            GuardResult(
                name="max_drop_percent",
                tripped=tripped,
                course=course,
                figures={
                    "drops": dropped,
                    "managed_enrollments": had,
                    "percent": percent,
                    "max_drop_percent": settings.max_drop_percent,
                    "min_course_size": settings.min_course_size,
                },
                message=(
                    f"{course}: {dropped} of {had} managed enrollments would be dropped ({percent}%, "
                    f"limit {settings.max_drop_percent}%)"
                    + ("" if big_enough else f"; not enforced below {settings.min_course_size} enrollments")
                ),
                override=OVERRIDE,
            )
        )
    results.append(
        GuardResult(
            name="max_drops",
            tripped=len(drops) > settings.max_drops,
            figures={"drops": len(drops), "max_drops": settings.max_drops},
            message=f"{_enrollments(len(drops))} would be dropped in total (limit {settings.max_drops})",
            override=OVERRIDE,
        )
    )
    protected = [op for op in drops if op.target.role in settings.protected_roles]
    by_role: dict[str, list[str]] = defaultdict(list)
    for op in protected:
        by_role[op.target.role].append(f"{op.target.user} in {op.target.course}")
    results.append(
        GuardResult(
            name="protected_roles",
            tripped=bool(protected),
            figures={
                "drops": len(protected),
                "protected_roles": list(settings.protected_roles),
                "by_role": {role: len(users) for role, users in sorted(by_role.items())},
                "sample": sorted(u for users in by_role.values() for u in users)[:SAMPLE],
            },
            message=(
                f"{_enrollments(len(protected))} in protected roles would be dropped: "
                + ", ".join(sorted(u for users in by_role.values() for u in users)[:SAMPLE])
                if protected
                else "no protected-role enrollment is dropped"
            ),
            override=OVERRIDE,
        )
    )
    return tuple(results)


def _counts(factorized: tuple[np.ndarray, np.ndarray], mask: np.ndarray | None) -> dict[str, int]:
    """Rows per value of a factorized column (optionally only where ``mask``), via integer codes:
    value_counts on a million Python strings is several times slower."""
    codes, names = factorized
    if mask is not None:
        codes = codes[mask]
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    return {str(name): int(n) for name, n in zip(names.tolist(), counts.tolist(), strict=True) if n}


def _enrollments(count: int) -> str:
    return f"{count} enrollment{'' if count == 1 else 's'}"
