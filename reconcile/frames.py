"""The two tables the planner diffs: *desired* (from rosters) and *current* (from Canvas).

This module fixes their columns and dtypes; it is the contract between the roster
loaders, the Canvas client, snapshot files and the planner. Pure: no I/O.

Desired (one row per wanted enrollment, identity = course, section, user, role,
associated_user as Canvas's unique index, DESIGN §3):

- ``course``: course ref (see :mod:`reconcile.ids`), e.g. ``sis_course_id:MATH101``.
- ``section``: section ref, or <NA> meaning "any section of the course"
  (a new enrollment then goes to the default section).
- ``user``: user ref (sis_user_id / sis_integration_id / sis_login_id / numeric).
- ``role``: the role name as Canvas reports it in enrollment JSON: ``StudentEnrollment``,
  ``TeacherEnrollment``, ``TaEnrollment``, ``DesignerEnrollment``, ``ObserverEnrollment``
  for built-in roles, the (case-sensitive) label for a custom role.
- ``role_id``: the Canvas role id when the roster gave one, else <NA>.
- ``type``: the base enrollment type when known (built-in roles), else <NA>.
- ``status``: active | invited | inactive | completed | deleted | deleted_last_completed.
- ``start_at`` / ``end_at``: UTC timestamps or NaT. Managed only where ``dates_managed``.
- ``limit_section_privileges``: boolean. Managed only where ``limit_managed``.
- ``associated_user``: observee's user ref (observers only), else <NA>.
- ``notify``: boolean or <NA> (<NA> = the config's policy.notify).
- ``last_attended_at``: UTC timestamp or NaT. Managed only where ``last_attended_managed``.
- ``dates_managed`` / ``limit_managed`` / ``last_attended_managed``: bool. False when the
  attribute's column (or YAML key) was absent: Canvas's value is then kept. True with an
  empty value means "should be empty".
- ``origin_file`` / ``origin_row``: where the row came from (row is the 1-based data line
  number of a CSV, counting the header as line 1, or a YAML path such as
  ``courses[0].sections[1].students[3]``), so errors and operations can point back to it.

Current (one row per Canvas enrollment, fetched with every state, DESIGN §4):
the columns of :data:`CURRENT_COLUMNS`, taken from the Enrollments API JSON
(facts §6): ``state`` is the raw ``enrollment_state``; ``course_ref`` is the ref the
course was fetched under so desired and current rows can be joined on it (for a section
cross-listed into another course, the course the roster names it under, while ``course_id``
is the course it is in now, facts §14.2); ``linked`` marks observer rows Canvas maintains
from an observer link (facts §14.1).
"""

from __future__ import annotations

import pandas as pd

UTC_TS = "datetime64[us, UTC]"

DESIRED_COLUMNS: dict[str, str] = {
    "course": "string",
    "section": "string",
    "user": "string",
    "role": "string",
    "role_id": "Int64",
    "type": "string",
    "status": "string",
    "start_at": UTC_TS,
    "end_at": UTC_TS,
    "limit_section_privileges": "boolean",
    "associated_user": "string",
    "notify": "boolean",
    "last_attended_at": UTC_TS,
    "dates_managed": "bool",
    "limit_managed": "bool",
    "last_attended_managed": "bool",
    "origin_file": "string",
    "origin_row": "string",
}

IDENTITY: tuple[str, ...] = ("course", "section", "user", "role", "associated_user")

CURRENT_COLUMNS: dict[str, str] = {
    "id": "Int64",
    "course_ref": "string",
    "course_id": "Int64",
    "sis_course_id": "string",
    "course_section_id": "Int64",
    "sis_section_id": "string",
    "user_id": "Int64",
    "sis_user_id": "string",
    "user_integration_id": "string",
    "login_id": "string",
    "user_name": "string",
    "type": "string",
    "role": "string",
    "role_id": "Int64",
    "state": "string",
    "start_at": UTC_TS,
    "end_at": UTC_TS,
    "limit_privileges_to_course_section": "boolean",
    "associated_user_id": "Int64",
    "sis_import_id": "Int64",
    "last_attended_at": UTC_TS,
    "last_activity_at": UTC_TS,
    "created_at": UTC_TS,
    "updated_at": UTC_TS,
    "temporary_enrollment_source_user_id": "Int64",
    # True for an observer row Canvas keeps in step with an observer link (facts §14.1): Canvas's,
    # not the roster's. Set by the state fetch (reconcile.canvas.state) when links matter.
    "linked": "boolean",
    # True when the enrollment JSON left last_attended_at out (not null): the token may not read
    # it (read_reports, facts §14.5), so its value is unknown, not empty.
    "last_attended_hidden": "boolean",
}

BASE_TYPES: tuple[str, ...] = (
    "StudentEnrollment",
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "ObserverEnrollment",
)

# SIS CSV / YAML role words -> Canvas built-in role names (facts §12).
ROLE_WORDS: dict[str, str] = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "designer": "DesignerEnrollment",
    "observer": "ObserverEnrollment",
}

STATUSES: tuple[str, ...] = (
    "active",
    "invited",
    "inactive",
    "completed",
    "deleted",
    "deleted_last_completed",
)

# Every raw workflow_state an enrollment can have (facts §1.1, §7.1).
CANVAS_STATES: tuple[str, ...] = (
    "active",
    "invited",
    "creation_pending",
    "inactive",
    "completed",
    "rejected",
    "deleted",
)


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame with exactly ``columns`` and their dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Return ``frame`` with exactly ``columns`` in order and dtype; missing ones filled with NA.

    Raises ``ValueError`` if a value cannot be represented in its column's dtype.
    """
    out = {}
    for name, dtype in columns.items():
        if name in frame.columns:
            out[name] = _as_dtype(frame[name], dtype)
        elif dtype == "bool":
            out[name] = pd.Series(False, index=frame.index, dtype="bool")
        else:
            out[name] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    return pd.DataFrame(out, index=frame.index)


def _as_dtype(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == UTC_TS:
        return pd.to_datetime(series, utc=True).astype(UTC_TS)
    return series.astype(dtype)
