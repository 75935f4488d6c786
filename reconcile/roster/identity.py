"""Checks across all rows of all files: duplicates, conflicts, sections in two courses.

Enrollment identity is Canvas's unique index (facts §3.4): course, section, user, role
(or role id) and associated user. Two rows with one identity are either the same row
twice (a warning; the later one is dropped) or a contradiction (an error naming both
rows and the attributes that differ). Vectorised: only rows that share an identity are
visited one by one. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.roster.problems import Problem, error, warning

KEY = ("course", "section", "user", "role", "role_id", "associated_user")
ATTRIBUTES = (
    "status",
    "start_at",
    "end_at",
    "limit_section_privileges",
    "notify",
    "last_attended_at",
    "dates_managed",
    "limit_managed",
    "last_attended_managed",
)
# Which roster column to name when an attribute conflicts.
ATTRIBUTE_COLUMN = {
    "status": "status",
    "start_at": "start_date",
    "end_at": "end_date",
    "limit_section_privileges": "limit_section_privileges",
    "notify": "notify",
    "last_attended_at": "last_attended_at",
    "dates_managed": "start_date",
    "limit_managed": "limit_section_privileges",
    "last_attended_managed": "last_attended_at",
}


def _where(frame: pd.DataFrame, i: int) -> str:
    return f"{frame.at[i, 'origin_file']}:{frame.at[i, 'origin_row']}"


def check_identities(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Report duplicate and conflicting identities; return ``frame`` without repeated rows.

    ``frame`` is the concatenation of every file's desired rows (default RangeIndex).
    """
    problems: list[Problem] = []
    key = frame[list(KEY)].astype(object).fillna("")
    shared = key.duplicated(keep=False).to_numpy()
    drop = np.zeros(len(frame), dtype=bool)
    if shared.any():
        sub = frame[shared]
        groups = sub.groupby([key[c][shared] for c in KEY], sort=False, dropna=False).groups
        for members in groups.values():
            first = int(members[0])
            for i in members[1:]:
                i = int(i)
                differ = [a for a in ATTRIBUTES if not _same(frame.at[first, a], frame.at[i, a])]
                file, row = str(frame.at[i, "origin_file"]), str(frame.at[i, "origin_row"])
                if not differ:
                    drop[i] = True
                    problems.append(
                        warning(
                            file,
                            row,
                            None,
                            "duplicate_row",
                            f"same enrollment as {_where(frame, first)}; ignored",
                        )
                    )
                    continue
                columns = sorted({ATTRIBUTE_COLUMN[a] for a in differ})
                problems.append(
                    error(
                        file,
                        row,
                        columns[0],
                        "conflicting_rows",
                        f"same enrollment as {_where(frame, first)} but with a different {', '.join(columns)}",
                    )
                )
    problems.extend(_sections_in_two_courses(frame))
    return frame[~drop].reset_index(drop=True), problems


def _same(a: object, b: object) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return bool(a == b)


def _sections_in_two_courses(frame: pd.DataFrame) -> list[Problem]:
    with_section = frame[frame["section"].notna()]
    pairs = with_section[["section", "course"]].drop_duplicates()
    split = pairs["section"].duplicated(keep=False)
    if not split.any():
        return []
    problems = []
    owner = with_section.drop_duplicates("section").set_index("section")
    suspects = with_section[with_section["section"].isin(pairs["section"][split])]
    for _, row in suspects.iterrows():
        first = owner.loc[row["section"]]
        if row["course"] == first["course"]:
            continue
        problems.append(
            error(
                str(row["origin_file"]),
                str(row["origin_row"]),
                "section_id",
                "section_in_two_courses",
                f"section {row['section']} is also given with course {first['course']} "
                f"({first['origin_file']}:{first['origin_row']}); a section belongs to one course",
            )
        )
    return problems
