"""A column of roster cells, factorized once: per-row codes into its distinct values.

SIS exports repeat the same course, role, status and date on thousands of rows, so every
check and conversion runs on the distinct values only and is spread back to the rows
with one numpy ``take``. Code ``-1`` means the cell is absent (<NA>: the column or YAML
key was not given); ``""`` is a real value (present but empty). Pure: no I/O.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

_INNER_SPACE = ("\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


@dataclass(frozen=True)
class Cells:
    """``codes[i]`` indexes ``values`` (stripped distinct strings) for row i; -1 = absent."""

    codes: np.ndarray
    values: np.ndarray  # object array of str
    stripped: bool = False  # stripping whitespace changed some value (so values may repeat)
    per_row: bool = False  # values are the rows themselves (codes = arange): no factorize
    joined: str | None = None  # the values joined with NUL, when already built (per_row)

    @classmethod
    def of(cls, column: pd.Series | np.ndarray) -> Cells:
        """Factorize a column of strings (None/NaN = absent) and strip the distinct values."""
        if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
            # Already factorized by the CSV reader: codes into distinct categories, -1 = NA.
            codes = column.cat.codes.to_numpy()
            uniques = column.cat.categories.to_numpy(dtype=object)
        else:
            array = column.to_numpy(dtype=object) if isinstance(column, pd.Series) else column
            codes, uniques = pd.factorize(array, use_na_sentinel=True)
        # str.strip returns the very same object when there is nothing to strip.
        stripped = [u.strip() if isinstance(u, str) else str(u).strip() for u in uniques]
        changed = any(map(operator.is_not, stripped, uniques))
        return cls(codes.astype(np.intp, copy=False), np.array(stripped, dtype=object), changed)

    @classmethod
    def rows(cls, column: pd.Series) -> Cells:
        """Like :meth:`of` for a column whose values are nearly all distinct (user ids):
        factorizing would cost more than it saves, so every row is its own value."""
        array = column.to_numpy(dtype=object)
        try:
            joined = "\x00".join(array)
        except TypeError:  # an absent cell (<NA>, None, NaN) is no string: factorize instead
            return cls.of(column)
        # ASCII whitespace can only sit next to a NUL separator or at the ends; anything
        # non-ASCII goes the slow way (Unicode has more spaces).
        if (
            joined.isascii()
            and not any(c in joined for c in _INNER_SPACE)
            and joined == joined.strip()
            and "\x00 " not in joined
            and " \x00" not in joined
        ):
            return cls(np.arange(len(array), dtype=np.intp), array, False, True, joined)
        stripped = [u.strip() for u in array]
        changed = any(map(operator.is_not, stripped, array))
        return cls(np.arange(len(array), dtype=np.intp), np.array(stripped, dtype=object), changed, True)

    @classmethod
    def absent(cls, n: int) -> Cells:
        """A column that was not given at all."""
        # A read-only broadcast of -1: no per-row memory for a column that is not there.
        return cls(np.broadcast_to(np.intp(-1), (n,)), np.array([], dtype=object))

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, per_value: np.ndarray | list[Any], absent: Any) -> np.ndarray:
        """Spread a per-distinct-value array to rows; absent cells get ``absent``."""
        values = np.asarray(per_value)
        if self.per_row:
            return values
        if not len(self.values):  # an absent column: every row gets ``absent``
            return np.full(len(self.codes), absent, dtype=np.asarray([absent]).dtype)
        dtype = values.dtype if len(values) else np.asarray([absent]).dtype
        extended = np.empty(len(values) + 1, dtype=dtype if dtype != np.dtype("O") else object)
        extended[: len(values)] = values
        extended[-1] = absent
        return extended[self.codes]

    def take_strings(self, per_value: np.ndarray, absent: str | None = None) -> pd.arrays.StringArray:
        """Spread per-value strings (None = <NA>) to rows as a pandas StringArray.

        Only the distinct values are checked for being strings; the rows are a take.
        """
        distinct = pd.arrays.StringArray(np.asarray(per_value, dtype=object).copy())
        if self.per_row:
            return distinct
        result: pd.arrays.StringArray = distinct.take(self.codes, allow_fill=True, fill_value=absent)
        return result

    def rows_where(self, per_value: np.ndarray | list[bool]) -> np.ndarray:
        """Row mask from a per-value mask (absent cells are False)."""
        return self.take(np.asarray(per_value, dtype=bool), False)

    @cached_property
    def empty_values(self) -> np.ndarray:
        """Per-value mask of empty strings (computed once: every check asks for it)."""
        if self.joined is not None and not (
            self.joined == ""
            or "\x00\x00" in self.joined
            or self.joined.startswith("\x00")
            or self.joined.endswith("\x00")
        ):
            # NUL-joined values hold an empty one only as a doubled or edge separator.
            return np.zeros(len(self.values), dtype=bool)
        return np.asarray(self.values == "", dtype=bool).reshape(len(self.values))

    def missing(self) -> np.ndarray:
        """Rows that are absent or empty."""
        return self.take(self.empty_values, True)

    def absent_rows(self) -> np.ndarray:
        return self.codes < 0


def identity_codes(cells: Cells, refs: np.ndarray) -> np.ndarray:
    """Per-row integer codes such that equal refs get equal codes; empty/absent -> -1.

    ``refs`` is the ref of each distinct value (None for empty). Values that only differed
    by surrounding whitespace share a ref, so they are merged here.
    """
    if cells.per_row:
        # Python's str hash stands in for a code: equal refs hash equal; a collision only
        # makes two rows candidates, which the exact comparison later tells apart.
        if not cells.stripped and not cells.empty_values.any():
            return np.fromiter(map(hash, refs), dtype=np.int64, count=len(refs))
        return np.fromiter((-1 if r is None else hash(r) for r in refs), dtype=np.int64, count=len(refs))
    present = np.array([r is not None for r in refs], dtype=bool)
    if present.all() and not cells.stripped:  # refs of distinct values are distinct
        per_value = np.arange(len(refs), dtype=np.int64)
    else:
        keys = np.where(present, refs, "")
        per_value = pd.factorize(keys)[0].astype(np.int64)
        per_value[~present] = -1
    return cells.take(per_value, -1).astype(np.int64)
