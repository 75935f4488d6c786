"""Small builders for desired and current frames, so each planner test states only what matters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from reconcile.config import Config, GuardSettings, ManageSettings, PolicySettings
from reconcile.frames import CURRENT_COLUMNS, DESIRED_COLUMNS, conform, empty_frame
from reconcile.plan import Plan
from reconcile.planner import build_plan

NOW = dt.datetime(2026, 9, 15, 12, 0, tzinfo=dt.timezone.utc)
COURSE = "sis_course_id:MATH101"
COURSE_ID = 11
SECTIONS = {"sis_section_id:MATH101-01": 101, "sis_section_id:MATH101-02": 102}
ROLE_IDS = {
    "StudentEnrollment": 3,
    "TeacherEnrollment": 4,
    "TaEnrollment": 5,
    "DesignerEnrollment": 6,
    "ObserverEnrollment": 7,
    "Grader": 30,
}
TYPES = {"Grader": "TaEnrollment"}


def want(user: str = "s1", **fields: Any) -> dict[str, Any]:
    """One desired row; ``user`` is a SIS user id unless it already is a ref."""
    row: dict[str, Any] = {
        "course": COURSE,
        "section": None,
        "user": user if ":" in user or user.isdigit() else f"sis_user_id:{user}",
        "role": "StudentEnrollment",
        "status": "active",
        "dates_managed": False,
        "limit_managed": False,
        "last_attended_managed": False,
        "origin_file": "roster.csv",
        "origin_row": "2",
    }
    row.update(fields)
    row.setdefault("type", TYPES.get(row["role"], row["role"]))
    return row


def have(
    user: str = "s1", *, uid: int | None = None, section: str = "sis_section_id:MATH101-01", **fields: Any
) -> dict[str, Any]:
    """One current Canvas row; ``uid`` defaults to a stable number derived from the SIS id."""
    role = fields.pop("role", "StudentEnrollment")
    row: dict[str, Any] = {
        "id": (uid if uid is not None else user_number(user)) * 1000
        + SECTIONS[section] % 100 * 10
        + ROLE_IDS[role] % 10,
        "course_ref": COURSE,
        "course_id": COURSE_ID,
        "sis_course_id": "MATH101",
        "course_section_id": SECTIONS[section],
        "sis_section_id": section.split(":", 1)[1],
        "user_id": uid if uid is not None else user_number(user),
        "sis_user_id": user,
        "login_id": f"{user}@example.edu",
        "type": TYPES.get(role, role),
        "role": role,
        "role_id": ROLE_IDS[role],
        "state": "active",
        "limit_privileges_to_course_section": False,
        "sis_import_id": 1,
        "updated_at": "2026-09-01T00:00:00Z",
    }
    row.update(fields)
    return row


def user_number(sis: str) -> int:
    return 5000 + sum(ord(ch) * (i + 1) for i, ch in enumerate(sis))


def desired_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    if not rows:
        return empty_frame(DESIRED_COLUMNS)
    return conform(pd.DataFrame(list(rows)), DESIRED_COLUMNS)


def current_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    if not rows:
        return empty_frame(CURRENT_COLUMNS)
    return conform(pd.DataFrame(list(rows)), CURRENT_COLUMNS)


def config(
    *,
    drop: str = "deleted_last_completed",
    roles: tuple[str, ...] | None = None,
    ownership: str = "all",
    **guards: Any,
) -> Config:
    return Config(
        manage=ManageSettings(roles=roles, ownership=ownership),  # type: ignore[arg-type]
        policy=PolicySettings(drop=drop),  # type: ignore[arg-type]
        guards=GuardSettings(**guards),
    )


def plan_of(
    desired: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    current: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    **kwargs: Any,
) -> Plan:
    cfg = kwargs.pop("cfg", None) or config()
    return build_plan(desired_frame(*desired), current_frame(*current), cfg, now=NOW, **kwargs)
