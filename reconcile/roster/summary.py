"""Counts that describe a desired table, for ``reconcile validate`` and reports. Pure."""

from __future__ import annotations

from typing import Any

from reconcile.roster.load import RosterResult


def summarise(result: RosterResult) -> dict[str, Any]:
    """Rows, distinct courses/sections/users, counts per role and per status, problem counts."""
    desired = result.desired

    def counts(column: str) -> dict[str, int]:
        series = desired[column].fillna("(none)") if column != "role" else desired[column].fillna("(role_id)")
        return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}

    return {
        "rows": int(len(desired)),
        "rows_read": int(sum(i["rows"] for i in result.inputs)),
        "courses": int(desired["course"].nunique()),
        "sections": int(desired["section"].nunique()),
        "users": int(desired["user"].nunique()),
        "by_role": counts("role"),
        "by_status": counts("status"),
        "complete": result.complete,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
    }
