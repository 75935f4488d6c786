"""The current state as a Canvas SIS ``enrollments.csv`` (facts §12), for ``reconcile export``.

Ids: the SIS id where Canvas has one, else ``canvas:N`` (the roster spelling of a Canvas
id). Roles: student / teacher / ta / observer / designer, or the custom role's label.
Status: SIS import statuses only, so

- ``invited`` and ``creation_pending`` are written ``active``: SIS imports have no
  "invited" status, and importing ``active`` is what makes the person a member (re-planning
  such a file against Canvas shows the pending invitations as restores to active);
- ``rejected`` is written ``deleted``: the person declined, and the planner treats a
  rejected row as already dropped;
- active / inactive / completed / deleted map to themselves.

Test-student (StudentViewEnrollment) and temporary enrollments are left out: an SIS import
cannot express them and this tool never touches them. Cells that a spreadsheet would run
as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
from typing import IO

import pandas as pd

from reconcile.frames import BASE_TYPES, CURRENT_COLUMNS, conform

SIS_COLUMNS = (
    "course_id",
    "section_id",
    "user_id",
    "role",
    "role_id",
    "status",
    "start_date",
    "end_date",
    "associated_user_id",
    "limit_section_privileges",
)
SIS_STATUS = {
    "active": "active",
    "invited": "active",
    "creation_pending": "active",
    "inactive": "inactive",
    "completed": "completed",
    "deleted": "deleted",
    "rejected": "deleted",
}
ROLE_WORD = {
    "StudentEnrollment": "student",
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "ta",
    "ObserverEnrollment": "observer",
    "DesignerEnrollment": "designer",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """``value`` made inert for spreadsheets: a leading formula character gets a ``'`` prefix."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def sis_rows(current: pd.DataFrame) -> tuple[list[dict[str, str]], int]:
    """``(rows, skipped)``: one SIS enrollments.csv row per exportable enrollment, and how
    many test-student or temporary enrollments were left out. Rows are sorted by course,
    section, user and role so the file diffs cleanly between runs."""
    frame = conform(current, CURRENT_COLUMNS)
    keep = frame["type"].isin(BASE_TYPES).fillna(False) & frame["temporary_enrollment_source_user_id"].isna()
    skipped = int((~keep).sum())
    frame = frame[keep]
    sis_by_user = _sis_ids(frame)
    rows = []
    for record in frame.to_dict("records"):
        role = _text(record["role"])
        builtin = role in ROLE_WORD
        associated = record["associated_user_id"]
        rows.append(
            {
                "course_id": _ref(record["sis_course_id"], record["course_id"]),
                "section_id": _ref(record["sis_section_id"], record["course_section_id"]),
                "user_id": _ref(record["sis_user_id"], record["user_id"]),
                "role": ROLE_WORD[role] if builtin else role,
                "role_id": "" if builtin or _missing(record["role_id"]) else str(record["role_id"]),
                "status": SIS_STATUS.get(_text(record["state"]), _text(record["state"])),
                "start_date": _date(record["start_at"]),
                "end_date": _date(record["end_at"]),
                "associated_user_id": ""
                if _missing(associated)
                else sis_by_user.get(int(associated), f"canvas:{associated}"),
                "limit_section_privileges": _flag(record["limit_privileges_to_course_section"]),
            }
        )
    rows.sort(
        key=lambda r: (r["course_id"], r["section_id"], r["user_id"], r["role"], r["associated_user_id"])
    )
    return rows, skipped


def write_sis_csv(current: pd.DataFrame, fileobj: IO[str]) -> tuple[int, int]:
    """Write the SIS enrollments.csv for ``current`` to a text file object; ``(written, skipped)``."""
    rows, skipped = sis_rows(current)
    writer = csv.DictWriter(fileobj, fieldnames=SIS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: escape_cell(value) for key, value in row.items()})
    return len(rows), skipped


def _sis_ids(frame: pd.DataFrame) -> dict[int, str]:
    """Canvas user id -> SIS user id for every user seen, so observers can name their observee."""
    known = frame[["user_id", "sis_user_id"]].dropna().drop_duplicates("user_id")
    return {int(u): str(s) for u, s in zip(known["user_id"], known["sis_user_id"], strict=True)}


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)


def _ref(sis_id: object, canvas_id: object) -> str:
    if not _missing(sis_id) and str(sis_id):
        return str(sis_id)
    return "" if _missing(canvas_id) else f"canvas:{canvas_id}"


def _date(value: object) -> str:
    if _missing(value):
        return ""
    stamp = pd.Timestamp(value).tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _flag(value: object) -> str:
    if _missing(value):
        return ""
    return "true" if bool(value) else "false"
