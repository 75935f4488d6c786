"""Desired state in: roster files -> one validated desired table (DESIGN §3).

Formats: Canvas SIS ``enrollments.csv``, YAML (``schemas/roster.schema.json``) and
OneRoster 1.1/1.2 CSV (folder or zip). :func:`load_rosters` never talks to Canvas and
never raises for bad input: every problem comes back as a :class:`Problem` with file,
row (or YAML path) and column. Rows with an error are left out of ``desired``.

Decisions where Canvas leaves room:

- ``course_id`` is required. Canvas can find the course from ``section_id`` alone, but a
  plan must know every course it touches before it calls Canvas; a row with only a
  section is an error (``section_without_course``).
- Dates are ISO 8601 only; a time without an offset is UTC. Spreadsheet spellings
  (``3/1/2026 8:00``) are errors that name the ISO reading(s): even an unambiguous one
  (``13/1/2026``) says nothing about the day/month order of the file's other rows.
- Custom role names must be declared in the config (``roster.custom_roles``), so a typo
  (``studnet``) is an error with a suggestion, never a new role.
- An observer without an associated user is a warning (Canvas accepts it); an associated
  user on any other role, or an observer observing themself, is an error.
- The same enrollment twice is a warning (the repeat is dropped); the same identity with
  a different status, dates or flags is an error naming both rows, across files too.
- ``root_account`` is ignored with one warning; ``temporary_enrollment_source_user_id``
  with a value is an error (temporary enrollments are never managed).
- A OneRoster *delta* makes the result incomplete (``RosterResult.complete`` is False):
  it says what changes, not the whole roster, so nothing absent from it may be dropped.
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
