"""Per-course fingerprints of fetched Canvas state, for apply's stale check (DESIGN §7).

The plan records, for every course in scope, a hash over each enrollment's id, state,
course, section, role, dates, updated_at and whether an observer link keeps it. Apply re-fetches and calls the same function: any
difference means someone changed the course since the plan was made. The hash is
order-independent (Canvas's page order is not part of the state).

Each row's fields become 64-bit integers (texts through SHA-256 of each distinct value)
and are folded into one row hash (FNV-style multiply, then the splitmix64 finaliser), in plain numpy integer
arithmetic: vectorised, and the same on every platform and library version. Each
course's row hashes are combined order-independently (count, wrapping sum, xor) and that
triple goes through SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from reconcile.planner.keys import factorize, micros

# course_id: a section cross-listed away moves its rows without touching updated_at (facts §14.2);
# linked: an observer link made or removed changes who owns the row (facts §14.1)
FIELDS = (
    "id",
    "state",
    "course_id",
    "course_section_id",
    "role",
    "role_id",
    "start_at",
    "end_at",
    "updated_at",
    "linked",
)
_PRIME = np.uint64(0x100000001B3)
_EMPTY = hashlib.sha256(b"").hexdigest()[:32]


def fingerprint(
    current: pd.DataFrame,
    *,
    courses: Iterable[str] = (),
    course_codes: tuple[np.ndarray, np.ndarray] | None = None,
    text_codes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, str]:
    """``{course_ref: hash}`` over ``current`` (frames.CURRENT_COLUMNS), one entry per course.

    Courses listed in ``courses`` but without any row get the hash of "no enrollments",
    so a course that gains its first enrollment is noticed too. Only the fields named in
    :data:`FIELDS` count: a changed name or last_activity_at does not make a plan stale.
    ``course_codes`` is ``factorize(current["course_ref"])`` (any code order) when the caller
    has it; the result does not depend on it. Likewise ``text_codes`` may hold the
    factorized ``state`` and ``role`` columns.
    """
    result = {str(course): _EMPTY for course in courses}
    if len(current) == 0:
        return dict(sorted(result.items()))
    row_hash = np.zeros(len(current), dtype="uint64")
    with np.errstate(over="ignore"):
        for name in FIELDS:
            column = current[name]
            if name.endswith("_at"):
                values = micros(column).view("uint64")
            elif name in ("state", "role"):
                values = _text_codes((text_codes or {}).get(name) or factorize(column))
            elif name == "linked":
                values = column.fillna(False).to_numpy(dtype="uint64")
            else:
                values = column.to_numpy(dtype="int64", na_value=-1).view("uint64")
            row_hash = (row_hash ^ values) * _PRIME  # FNV-style over 64-bit words ...
        row_hash = _mix(row_hash)  # ... then one avalanche per row
    by_course = course_codes
    if by_course is None:
        by_course = pd.factorize(current["course_ref"].to_numpy(dtype=object), sort=True)
    codes_of_rows, course_names = by_course
    order = np.argsort(codes_of_rows, kind="stable")
    codes = codes_of_rows[order]
    hashes = row_hash[order]
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1))
    # order-independent per course: count, wrapping sum and xor of the row hashes, then SHA-256
    counts = np.diff(np.append(starts, len(codes)))
    sums = np.add.reduceat(hashes, starts)
    xors = np.bitwise_xor.reduceat(hashes, starts)
    summary = np.stack([counts.astype("uint64"), sums, xors], axis=1).astype("<u8")
    for position, code in enumerate(codes[starts].tolist()):
        digest = hashlib.sha256(summary[position].tobytes())
        result[str(course_names[code])] = digest.hexdigest()[:32]
    return dict(sorted(result.items()))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective avalanche of 64-bit integers (wrapping arithmetic)."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _text_codes(factorized: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A stable 64-bit number per text value (SHA-256 of each distinct value), so the row hash
    works on integers: much faster than hashing a million Python strings, and run-independent."""
    codes, uniques = factorized
    numbers = [int.from_bytes(hashlib.sha256(str(u).encode("utf-8")).digest()[:8], "little") for u in uniques]
    table = np.array([*numbers, 0], dtype="uint64")  # code -1 (missing) reads the trailing 0
    return table[codes]
