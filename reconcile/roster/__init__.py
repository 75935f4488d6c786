"""Desired state in: roster files -> one validated desired table (DESIGN §3).

Formats: Canvas SIS ``enrollments.csv``, YAML (``schemas/roster.schema.json``) and
OneRoster 1.1/1.2 CSV (folder or zip). :func:`load_rosters` never talks to Canvas and
never raises for bad input: every problem comes back as a :class:`Problem` with file,
row (or YAML path) and column.
"""

from __future__ import annotations

from reconcile.roster.load import FORMATS, RosterResult, load_rosters
from reconcile.roster.problems import Problem

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """``value`` as text that a spreadsheet will show rather than execute.

    Cells starting with ``= + - @`` (or tab/CR) are formulas to Excel and friends; they
    get a leading apostrophe. Use it in any CSV meant to be opened by people. Rosters
    read by this tool keep such cells as plain data.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


__all__ = ["FORMATS", "Problem", "RosterResult", "csv_safe", "load_rosters"]
