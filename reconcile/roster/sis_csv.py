"""Canvas SIS ``enrollments.csv`` (facts §12) -> raw rows for :mod:`reconcile.roster.normalise`.

Header names are matched case-insensitively and trimmed. A missing required column is
reported with the header cell it was probably renamed to; unknown columns are reported
as warnings and ignored. Pure: takes bytes, does no I/O.
"""

from __future__ import annotations

import pandas as pd

from reconcile.roster.csvread import ROW, decode_check, read_csv_table
from reconcile.roster.problems import Problem, closest, did_you_mean, error, warning

COLUMNS = (
    "course_id",
    "section_id",
    "user_id",
    "user_integration_id",
    "role",
    "role_id",
    "status",
    "start_date",
    "end_date",
    "associated_user_id",
    "limit_section_privileges",
    "notify",
    "root_account",
    "temporary_enrollment_source_user_id",
    "last_attended_at",
)
# Each requirement is satisfied by any one of its columns (facts §12), except that this
# tool always needs course_id: Canvas would find the course from section_id alone, but a
# plan must know every course it touches before it talks to Canvas.
# Columns that repeat a few values on many rows (a course has hundreds of students, a
# term a handful of dates): read as categoricals. User ids are nearly all distinct, and
# flags would be read as booleans (losing their spelling), so those stay plain text.
DISTINCT = frozenset(COLUMNS) - {"user_id", "user_integration_id", "limit_section_privileges", "notify"}
REQUIRED = (("course_id",), ("user_id", "user_integration_id"), ("role", "role_id"), ("status",))


def looks_like_sis(header: list[str]) -> bool:
    """True when a CSV header reads as a Canvas SIS enrollments file."""
    names = {h.strip().lower() for h in header}
    return bool(names & {"course_id", "section_id"}) or len(names & set(COLUMNS)) >= 3


def check_header(header: tuple[str, ...], file: str) -> tuple[dict[str, str], list[Problem]]:
    """Map header cells to SIS column names; report missing required and unknown columns."""
    problems: list[Problem] = []
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    if len(header) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in header[0]:
                message = f"the header is separated by {name}: an SIS CSV uses commas (re-export as CSV)"
                return mapping, [error(file, 1, None, "wrong_delimiter", message)]
    for name in header:
        lowered = name.strip().lower()
        if lowered in COLUMNS and lowered not in mapping.values():
            mapping[name] = lowered
        elif lowered not in COLUMNS:
            unknown.append(name)
    present = set(mapping.values())
    for group in REQUIRED:
        if present & set(group):
            continue
        hint = ""
        for candidate in group:
            found = closest(candidate, unknown)
            if found:
                hint = f' (did you mean the column "{found}"?)'
                break
        wanted = " or ".join(group)
        problems.append(
            error(file, 1, group[0], "missing_column", f"required column {wanted} is missing{hint}")
        )
    for name in unknown:
        problems.append(
            warning(file, 1, name, "unknown_column", f"unknown column ignored{did_you_mean(name, COLUMNS)}")
        )
    return mapping, problems


def read_sis_csv(data: bytes, file: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse an SIS enrollments CSV into raw rows (SIS column names, string cells, ``_row``).

    Returns ``None`` instead of a frame when the file cannot be read at all (encoding,
    structure, missing required columns); every problem found is returned either way.
    """
    data, problems = decode_check(data, file)
    if problems:
        return None, problems
    table, problems = read_csv_table(data, file, distinct=DISTINCT)
    if table is None:
        return None, problems
    mapping, header_problems = check_header(table.header, file)
    problems += header_problems
    if any(p.code in {"missing_column", "duplicate_column", "wrong_delimiter"} for p in problems):
        return None, problems
    frame = table.frame
    # Renamed in place (no copy of a million rows); unknown columns stay under their own
    # names, which the normaliser never reads.
    frame.columns = [mapping.get(name, f"unknown:{name}") if name != ROW else ROW for name in frame.columns]
    return frame, problems
