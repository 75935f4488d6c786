"""What the planner may touch (DESIGN §4): courses, roles, ownership, never-touched rows.

Pure. A Canvas row is *touchable* when it is in a course in scope and is neither a
StudentViewEnrollment nor a temporary enrollment; it is *managed* when, in addition, its
role is managed and (with ``manage.ownership: sis``) it came from an SIS import, or (with
``claimed``) it is in the claim set or a roster row matches it
(:mod:`reconcile.planner.ownership`). Only managed rows are ever dropped; desired rows may
match any touchable row, but a row outside ownership or role scope is never changed (a
warning says so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.planner.keys import factorize, in_names

NEVER_TOUCHED_TYPES = ("StudentViewEnrollment",)


@dataclass(frozen=True)
class Scope:
    courses: tuple[str, ...]  # course refs, sorted
    roles: tuple[str, ...]  # Canvas role names, sorted
    ownership: str  # all | sis | claimed
    roles_from_roster: bool  # True when manage.roles was not set


def decide_scope(
    desired: pd.DataFrame,
    config: Config,
    *,
    only_courses: Iterable[str] | None = None,
    present: Iterable[str] | None = None,
) -> Scope:
    """Courses named by the roster plus ``manage.courses`` (or exactly ``only_courses`` when given);
    roles from ``manage.roles`` or else the roles present in the roster. ``present`` is the
    roster's distinct courses when the caller already has them."""
    if only_courses is not None:
        courses = set(only_courses)
    else:
        courses = set(_distinct(desired["course"]) if present is None else present) | set(
            config.manage.courses
        )
    if config.manage.roles is not None:
        roles = set(config.manage.roles)
        from_roster = False
    else:
        roles = set(_distinct(desired["role"]))
        from_roster = True
    return Scope(
        courses=tuple(sorted(str(c) for c in courses)),
        roles=tuple(sorted(str(r) for r in roles)),
        ownership=config.manage.ownership,
        roles_from_roster=from_roster,
    )


def _distinct(column: pd.Series) -> list[str]:
    """The distinct non-missing values (factorising the object array beats ``unique`` on pandas strings)."""
    _, uniques = factorize(column)
    return [str(u) for u in uniques.tolist()]


def classify(
    current: pd.DataFrame,
    scope: Scope,
    *,
    roles: tuple[np.ndarray, np.ndarray] | None = None,
    claimed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(touchable, managed)`` boolean arrays aligned with ``current``'s rows.

    ``current`` must already be limited to the scope's courses; ``roles`` is
    ``factorize(current["role"])`` when the caller has it. ``claimed`` marks the rows in
    the claim set (None: no claim set, so nothing is claimed); with ``ownership: claimed``
    only those are managed here, and the planner adds the rows the roster matches."""
    never = current["type"].isin(NEVER_TOUCHED_TYPES).to_numpy(dtype=bool) | current[
        "temporary_enrollment_source_user_id"
    ].notna().to_numpy(dtype=bool)
    touchable = ~never
    managed = touchable & in_names(roles or factorize(current["role"]), scope.roles)
    if scope.ownership == "sis":
        managed &= current["sis_import_id"].notna().to_numpy(dtype=bool)
    elif scope.ownership == "claimed":
        managed &= claimed if claimed is not None else np.zeros(len(current), dtype=bool)
    return touchable, managed


def unmanaged_counts(current: pd.DataFrame, scope: Scope, managed: np.ndarray) -> dict[str, int]:
    """Rows (of ``current``, limited to the scope's courses) that the plan will not change,
    per course (zeros left out)."""
    rows = current.loc[~managed, "course_ref"]
    counts = rows.value_counts()
    return {str(course): int(n) for course, n in sorted(counts.items())}


def policy_document(config: Config, scope: Scope) -> dict[str, Any]:
    """The effective settings that shaped a plan, as recorded in it (never the token or URL)."""
    manage = config.manage
    policy = config.policy
    guards = config.guards
    return {
        "manage": {
            "roles": list(manage.roles) if manage.roles is not None else None,
            "courses": list(manage.courses),
            "ownership": manage.ownership,
        },
        "policy": {
            "drop": policy.drop,
            "notify": policy.notify,
            "enrollment_state": policy.enrollment_state,
            "drift": policy.drift,
        },
        "guards": {
            "max_drop_percent": guards.max_drop_percent,
            "min_course_size": guards.min_course_size,
            "max_drops": guards.max_drops,
            "protected_roles": list(guards.protected_roles),
        },
        "scope": {"courses": list(scope.courses), "roles": list(scope.roles), "ownership": scope.ownership},
    }
