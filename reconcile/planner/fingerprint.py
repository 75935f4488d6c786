"""Per-course fingerprints of fetched Canvas state, for apply's stale check (DESIGN §7).

The plan records, for every course in scope, a hash over each enrollment's id, state,
section, role, dates and updated_at. Apply re-fetches and calls the same function: any
difference means someone changed the course since the plan was made. The hash is
order-independent (Canvas's page order is not part of the state).

Rows are hashed with pandas' fixed-key row hash (vectorised; a million rows in well under
a second); each course's row hashes are combined order-independently (count, wrapping
sum, xor) and that triple goes through SHA-256. Should a future
pandas ever change its row hash, plans made before the upgrade would merely be reported
stale: the safe direction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

FIELDS = ("id", "state", "course_section_id", "role", "role_id", "start_at", "end_at", "updated_at")
_EMPTY = hashlib.sha256(b"").hexdigest()[:32]


def fingerprint(current: pd.DataFrame, *, courses: Iterable[str] = ()) -> dict[str, str]:
    """``{course_ref: hash}`` over ``current`` (frames.CURRENT_COLUMNS), one entry per course.

    Courses listed in ``courses`` but without any row get the hash of "no enrollments",
    so a course that gains its first enrollment is noticed too. Only the fields named in
    :data:`FIELDS` count: a changed name or last_activity_at does not make a plan stale.
    """
    result = {str(course): _EMPTY for course in courses}
    if len(current) == 0:
        return dict(sorted(result.items()))
    columns = {}
    for name in FIELDS:
        column = current[name]
        if name.endswith("_at"):
            columns[name] = _micros(column)
        elif name in ("state", "role"):
            columns[name] = _text_codes(column)
        else:
            columns[name] = column.astype("Int64").fillna(-1).astype("int64")
    row_hash = pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy()
    course_codes, course_names = pd.factorize(current["course_ref"].to_numpy(dtype=object), sort=True)
    order = np.argsort(course_codes, kind="stable")
    codes = course_codes[order]
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


def _text_codes(column: pd.Series) -> np.ndarray:
    """A stable 64-bit number per text value (SHA-256 of each distinct value), so the row hash
    works on integers: much faster than hashing a million Python strings, and run-independent."""
    codes, uniques = pd.factorize(column.to_numpy(dtype=object, na_value=None), use_na_sentinel=True)
    numbers = [int.from_bytes(hashlib.sha256(str(u).encode("utf-8")).digest()[:8], "little") for u in uniques]
    table = np.array([*numbers, 0], dtype="uint64")  # code -1 (missing) reads the trailing 0
    return table[codes]


def _micros(column: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch; NaT becomes numpy's NaT integer (int64 min)."""
    naive = pd.to_datetime(column, utc=True).dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[us]").view("int64")
