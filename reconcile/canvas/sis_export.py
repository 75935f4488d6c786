"""The current state as a Canvas SIS ``enrollments.csv`` (facts §12), for ``reconcile export``.

Ids: the SIS id where Canvas has one, else ``canvas:N`` (the roster spelling of a Canvas
id). Roles: student / teacher / ta / observer / designer, or the custom role's label.
Status: what planning the file back needs, so that an unedited export plans as "nothing
to do" (DESIGN §5, the rules table):

- ``invited`` and ``creation_pending`` are written ``invited``: the roster's ``invited``
  leaves a pending invitation as it is (desired invited x current invited/creation_pending
  -> nothing), where ``active`` would force-accept every one of them. (Canvas's own SIS
  import knows no "invited" status; this file is a roster for ``reconcile``, which does.)
- ``rejected`` is written ``deleted``: the person declined, and the planner treats a
  rejected row as already dropped (desired deleted x current rejected -> nothing);
- active / inactive / completed / deleted map to themselves.

Test-student (StudentViewEnrollment) and temporary enrollments are left out: an SIS import
cannot express them and this tool never touches them. Cells that a spreadsheet would run
as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) are prefixed with ``'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import pandas as pd

from reconcile.frames import BASE_TYPES, CURRENT_COLUMNS, conform
from reconcile.roster import FORMULA_PREFIXES

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
    "invited": "invited",
    "creation_pending": "invited",
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


def sis_frame(current: pd.DataFrame, sis_ids: dict[int, str] | None = None) -> tuple[pd.DataFrame, int]:
    """``(rows, skipped)``: the SIS enrollments.csv rows (columns :data:`SIS_COLUMNS`, all
    text, formula cells not yet escaped) for every exportable enrollment, and how many
    test-student or temporary enrollments were left out.

    Rows keep their courses in the order given (the order fetched) and are sorted by
    section, user and role within a course, so the file diffs cleanly between runs.
    ``sis_ids`` (Canvas user id -> SIS user id) carries users seen in earlier chunks of a
    streamed export; it is updated with this frame's users. Vectorised: 100,000 rows take
    well under a second."""
    frame = conform(current, CURRENT_COLUMNS)
    keep = frame["type"].isin(BASE_TYPES).fillna(False) & frame["temporary_enrollment_source_user_id"].isna()
    skipped = int((~keep).sum())
    frame = frame[keep.astype(bool)]
    role = frame["role"].astype("string").fillna("")
    builtin = role.isin(list(ROLE_WORD))
    state = frame["state"].astype("string").fillna("")
    associated = frame["associated_user_id"]
    sis_by_user = {} if sis_ids is None else sis_ids
    sis_by_user.update(_sis_ids(frame))
    observee = (
        associated.map(sis_by_user)
        .astype("string")
        .fillna("canvas:" + associated.astype("string"))
        .fillna("")
    )
    rows = pd.DataFrame(
        {
            "course_id": _ref(frame["sis_course_id"], frame["course_id"]),
            "section_id": _ref(frame["sis_section_id"], frame["course_section_id"]),
            "user_id": _ref(frame["sis_user_id"], frame["user_id"]),
            "role": role.map(ROLE_WORD).fillna(role).astype("string"),
            "role_id": frame["role_id"].astype("string").fillna("").where(~builtin, ""),
            "status": state.map(SIS_STATUS).fillna(state).astype("string"),
            "start_date": _date(frame["start_at"]),
            "end_date": _date(frame["end_at"]),
            "associated_user_id": observee.astype("string"),
            "limit_section_privileges": frame["limit_privileges_to_course_section"]
            .astype("boolean")
            .map({True: "true", False: "false"})
            .astype("string")
            .fillna(""),
        },
        index=frame.index,
    )
    rows["course_order"] = pd.factorize(frame["course_id"], use_na_sentinel=False)[0]
    rows = rows.sort_values(
        ["course_order", "section_id", "user_id", "role", "associated_user_id"], kind="stable"
    )
    return rows[list(SIS_COLUMNS)].reset_index(drop=True), skipped


def custom_roles(current: pd.DataFrame) -> dict[str, str]:
    """Custom role name -> base role word (student, teacher, ta, observer, designer) for
    every custom role among the exportable enrollments of ``current``: what
    ``roster.custom_roles`` must declare before the export validates as a roster.
    Cheap on a whole export: only rows whose role is not a built-in one are looked at."""
    needed = ["role", "type", "temporary_enrollment_source_user_id"]
    frame = (
        current[needed] if all(c in current for c in needed) else conform(current, CURRENT_COLUMNS)[needed]
    )
    role = frame["role"]
    custom = (role.notna() & ~role.isin(list(ROLE_WORD))).to_numpy(dtype=bool, na_value=False)
    if not custom.any():
        return {}
    rows = frame[custom]
    rows = rows[rows["type"].isin(list(ROLE_WORD)) & rows["temporary_enrollment_source_user_id"].isna()]
    pairs = rows[["role", "type"]].drop_duplicates()
    return {str(name): ROLE_WORD[str(kind)] for name, kind in zip(pairs["role"], pairs["type"], strict=True)}


def write_sis_csv(current: pd.DataFrame | Iterable[pd.DataFrame], fileobj: IO[str]) -> tuple[int, int]:
    """Write the SIS enrollments.csv for ``current`` (one frame, or the chunks of
    :meth:`CanvasClient.fetch_current_chunks`, written as they come) to a text file
    object; ``(written, skipped)``."""
    chunks = [current] if isinstance(current, pd.DataFrame) else current
    sis_ids: dict[int, str] = {}
    written = skipped = 0
    header = True
    exported: set[int] = set()  # enrollment ids: a course asked for under two names is written once
    for chunk in chunks:
        fresh = []
        for enrollment_id in chunk["id"].tolist():
            fresh.append(enrollment_id not in exported)
            exported.add(enrollment_id)
        if not all(fresh):
            chunk = chunk[fresh]
        rows, left_out = sis_frame(chunk, sis_ids)
        skipped += left_out
        if rows.empty and not header:
            continue
        for column in FREE_TEXT_COLUMNS:  # the others come from fixed vocabularies, digits and dates
            rows[column] = _escape_column(rows[column])
        # CRLF as RFC 4180 says; it also makes the writer quote any cell holding a bare CR or LF.
        rows.to_csv(fileobj, index=False, header=header, lineterminator="\r\n")
        written += len(rows)
        header = False
    if header:  # no chunks at all: the header alone
        fileobj.write(",".join(SIS_COLUMNS) + "\r\n")
    return written, skipped


# Columns whose text comes from people (ids, custom role labels) and so may start like a formula.
FREE_TEXT_COLUMNS = ("course_id", "section_id", "user_id", "role", "associated_user_id")


def _escape_column(column: pd.Series) -> pd.Series:
    text = column.astype("string").fillna("")
    values, codes = pd.factorize(text)  # ids repeat (courses, sections): test each distinct value once
    risky_values = [str(v).startswith(FORMULA_PREFIXES) for v in codes]
    if not any(risky_values):
        return text
    risky = pd.Series(risky_values, dtype=bool).to_numpy()[values]
    return text.where(~risky, "'" + text)


def _sis_ids(frame: pd.DataFrame) -> dict[int, str]:
    """Canvas user id -> SIS user id for every user seen, so observers can name their observee."""
    known = frame[["user_id", "sis_user_id"]].dropna().drop_duplicates("user_id")
    return {int(u): str(s) for u, s in zip(known["user_id"], known["sis_user_id"], strict=True)}


def _ref(sis_ids: pd.Series, canvas_ids: pd.Series) -> pd.Series:
    """The SIS id where there is one, else ``canvas:N`` (the roster spelling)."""
    sis = sis_ids.astype("string")
    canvas = "canvas:" + canvas_ids.astype("string")
    return sis.where(sis.notna() & (sis != ""), canvas).fillna("")


def _date(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("string").fillna("")
