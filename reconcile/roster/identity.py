"""Checks across all rows of all files: duplicates, conflicts, sections in two courses.

Enrollment identity is Canvas's unique index (facts §3.4): course, section, user, role
(or role id) and associated user. Two rows with one identity are either the same row
twice (a warning; the later one is dropped) or a contradiction (an error naming both
rows and the attributes that differ). Candidates are found on integer identity codes
(a hash over them, vectorised); only rows that share a hash are compared one by one.
Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.roster.problems import Problem, error, warning

KEY = ("course", "section", "user", "role", "associated_user")
ATTRIBUTES = (
    "role_id",
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
    "role_id": "role_id",
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
_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
)


def codes_for(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Identity codes computed from a frame's columns (used when rows come from several files)."""
    codes = {}
    for name in KEY:
        column = frame[name].to_numpy(dtype=object)
        codes[name] = pd.factorize(column, use_na_sentinel=True)[0].astype(np.int64)
    role_id = frame["role_id"].to_numpy(dtype=object)
    codes["role"] = codes["role"] * (1 << 20) + pd.factorize(role_id, use_na_sentinel=True)[0].astype(
        np.int64
    )
    return codes


def _hash(codes: dict[str, np.ndarray]) -> np.ndarray:
    total = np.zeros(len(codes["course"]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name, multiplier in zip(KEY, _MULTIPLIERS, strict=True):
            total ^= (codes[name].astype(np.uint64) + np.uint64(1)) * np.uint64(multiplier)
            total = (total << np.uint64(7)) | (total >> np.uint64(57))
    return total


def _where(frame: pd.DataFrame, i: int) -> str:
    return f"{frame.at[i, 'origin_file']}:{frame.at[i, 'origin_row']}"


def check_identities(frame: pd.DataFrame, codes: dict[str, np.ndarray]) -> tuple[pd.DataFrame, list[Problem]]:
    """Report duplicate and conflicting identities; return ``frame`` without repeated rows.

    ``frame`` has a default RangeIndex; ``codes`` holds per-row identity codes for every
    name in :data:`KEY`, aligned with it.
    """
    problems: list[Problem] = []
    drop = np.zeros(len(frame), dtype=bool)
    if len(frame):
        shared = pd.Series(_hash(codes)).duplicated(keep=False).to_numpy()
        if shared.any():
            idx = np.flatnonzero(shared)
            groups: dict[tuple[object, ...], list[int]] = {}
            for i in idx:  # exact grouping: the hash only proposes candidates
                key = tuple(_plain(frame.at[i, name]) for name in (*KEY, "role_id"))
                groups.setdefault(key[:5] + (key[5] if key[3] is None else None,), []).append(int(i))
            for members in groups.values():
                problems += _compare(frame, members, drop)
    problems.extend(_sections_in_two_courses(frame, codes))
    if not drop.any():
        return frame, problems
    return frame[~drop].reset_index(drop=True), problems


def _compare(frame: pd.DataFrame, members: list[int], drop: np.ndarray) -> list[Problem]:
    problems = []
    first = members[0]
    for i in members[1:]:
        differ = [a for a in ATTRIBUTES if not _same(frame.at[first, a], frame.at[i, a])]
        file, row = str(frame.at[i, "origin_file"]), str(frame.at[i, "origin_row"])
        if not differ:
            drop[i] = True
            problems.append(
                warning(
                    file, row, None, "duplicate_row", f"same enrollment as {_where(frame, first)}; ignored"
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
    return problems


def _plain(value: object) -> object:
    return (
        None if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else value
    )


def _same(a: object, b: object) -> bool:
    a, b = _plain(a), _plain(b)
    if a is None or b is None or a is pd.NaT or b is pd.NaT:
        return (a is None or a is pd.NaT) and (b is None or b is pd.NaT)
    return bool(a == b)


def _sections_in_two_courses(frame: pd.DataFrame, codes: dict[str, np.ndarray]) -> list[Problem]:
    section, course = codes["section"], codes["course"]
    with_section = np.flatnonzero(section >= 0)
    if not len(with_section):
        return []
    sections = section[with_section]
    if sections.max() > len(section):  # not dense factorization codes: make them so
        sections = pd.factorize(sections)[0]
    # The first row of each section is a minimum per (dense) code, and its course the
    # section's owner: no hash table, no frame.
    first_row = np.full(int(sections.max()) + 1, len(section), dtype=np.int64)
    np.minimum.at(first_row, sections, with_section)
    owner_row = first_row[sections]
    differs = course[with_section] != course[owner_row]
    problems = []
    for i, j in zip(with_section[differs].tolist(), owner_row[differs].tolist(), strict=True):
        problems.append(
            error(
                str(frame.at[i, "origin_file"]),
                str(frame.at[i, "origin_row"]),
                "section_id",
                "section_in_two_courses",
                f"section {frame.at[i, 'section']} is also given with course {frame.at[j, 'course']} "
                f"({_where(frame, j)}); a section belongs to one course",
            )
        )
    return problems
