"""Parsing of roster cell values: user spellings, roles, dates, booleans.

The normaliser calls these on the *distinct* values of a column only (SIS exports repeat
the same course, role, status and date millions of times) and spreads the results back
to the rows. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pandas as pd

from reconcile.frames import ROLE_WORDS

ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
SHEET_DATE = re.compile(
    r"(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
BOOLEANS = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
}
CANVAS_NAMES = {name: name for name in ROLE_WORDS.values()}


def user_refs(values: pd.Series) -> pd.Series:
    """Distinct YAML user spellings -> refs: ``integration:X``, ``login:X``, ``canvas:N`` or a SIS id."""

    def one(text: str) -> str:
        kind, sep, rest = text.partition(":")
        if sep and kind == "integration":
            return f"sis_integration_id:{rest}"
        if sep and kind == "login":
            return f"sis_login_id:{rest}"
        if sep and kind == "sis":
            return f"sis_user_id:{rest}"
        if re.fullmatch(r"canvas:\d{1,19}", text):
            return rest
        return f"sis_user_id:{text}"

    return values.map(one)


def role_lookup(custom_roles: dict[str, str | None]) -> Callable[[str], tuple[str, str | None] | None]:
    """A function: roster role spelling -> (Canvas role name, base type or None), or None if unknown.

    Built-in words (student, teacher, ta, observer, designer) match case-insensitively,
    Canvas names (StudentEnrollment, ...) exactly; custom roles must be declared in the
    config and match case-sensitively, as Canvas does (facts §12).
    """

    def lookup(text: str) -> tuple[str, str | None] | None:
        word = ROLE_WORDS.get(text.lower())
        if word:
            return word, word
        if text in CANVAS_NAMES:
            return text, text
        if text in custom_roles:
            return text, custom_roles[text]
        return None

    return lookup


def dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Distinct date cells -> (UTC timestamp or NaT, fault text; "" when fine or empty).

    Accepted: ISO 8601 dates and date-times (``2026-08-24``, ``2026-08-24T08:00:00Z``,
    ``2026-08-24 08:00:00-05:00``). A time without an offset is taken as UTC. Spreadsheet
    spellings such as ``3/1/2026 8:00`` are refused, with the ISO spelling(s) they could
    mean, because the day/month order cannot be known from one cell.
    """
    text = values.str.strip()
    iso = text.str.fullmatch(ISO_DATE.pattern)
    parsed = pd.to_datetime(text.where(iso, None), format="ISO8601", utc=True, errors="coerce")
    parsed = pd.Series(parsed, index=values.index)
    fault = pd.Series("", index=values.index, dtype=object)
    impossible = iso & parsed.isna()
    fault[impossible] = text[impossible].map(lambda v: f"impossible date {v!r}")
    other = ~iso & (text != "")
    fault[other] = text[other].map(_why_not_iso)
    return parsed, fault


def _why_not_iso(text: str) -> str:
    match = SHEET_DATE.fullmatch(text)
    if not match:
        return f"unparseable date {text!r} (write ISO 8601, e.g. 2026-08-24 or 2026-08-24T08:00:00Z)"
    a, b, year_text, hour, minute, second, ampm = match.groups()
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    h = int(hour or 0)
    if ampm:
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    readings = []
    for month, day in ((int(a), int(b)), (int(b), int(a))):
        try:
            stamp = datetime(year, month, day, h, int(minute or 0), int(second or 0))
        except ValueError:
            continue
        iso = stamp.strftime("%Y-%m-%d") if hour is None else stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        if iso not in readings:
            readings.append(iso)
    if not readings:
        return f"impossible date {text!r}"
    if len(readings) == 1:
        return f"spreadsheet date {text!r}: write it as ISO 8601, {readings[0]}"
    return (
        f"ambiguous spreadsheet date {text!r}: day and month order unknown; "
        f"write ISO 8601, {readings[0]} (month first) or {readings[1]} (day first)"
    )
