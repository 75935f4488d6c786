"""Validation findings: one :class:`Problem` per thing wrong with a roster or config.

Every problem names where it is (file, row or YAML path, column) so a person can fix the
source. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding. ``row`` is a CSV line number (header = line 1) or a YAML path."""

    severity: Severity
    file: str
    row: str | None
    column: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        level = "warning: " if self.severity == "warning" else ""
        column = f"column {self.column}: " if self.column else ""
        return f"{where}: {level}{column}{self.message}"

    def to_dict(self) -> dict[str, str | None]:
        """The problem as a JSON-ready mapping (stable keys)."""
        return {
            "severity": self.severity,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }

    def sort_key(self) -> tuple[str, int, tuple[tuple[int, str], ...], str, str]:
        """Order by file, then row (line numbers first, then YAML paths in natural order
        so that ``students[2]`` comes before ``students[10]``), column, code."""
        row = self.row or ""
        kind = 0 if not row else (1 if row.isdigit() else 2)
        parts = tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", row) if p)
        return (self.file, kind, parts, self.column or "", self.code)


def error(file: str, row: str | int | None, column: str | None, code: str, message: str) -> Problem:
    """Shorthand for an error-severity :class:`Problem`."""
    return Problem("error", file, None if row is None else str(row), column, code, message)


def warning(file: str, row: str | int | None, column: str | None, code: str, message: str) -> Problem:
    """Shorthand for a warning-severity :class:`Problem`."""
    return Problem("warning", file, None if row is None else str(row), column, code, message)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (case-insensitive), or None when nothing is close."""
    pool = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(pool), n=1, cutoff=0.6)
    return pool[match[0]] if match else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest choice, or "" when nothing is close."""
    match = closest(word, choices)
    return f' (did you mean "{match}"?)' if match else ""


def sorted_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Problems in reading order: by file, row, column."""
    return tuple(sorted(problems, key=Problem.sort_key))
