"""Canvas object references, the one spelling every layer shares.

A *ref* is a string Canvas itself accepts in a path segment or an id-valued parameter
(facts §9): a plain numeric id (``"123"``) or ``<column>:<value>`` such as
``sis_course_id:MATH101``, ``sis_section_id:MATH101-01``, ``sis_user_id:s001``,
``sis_integration_id:X`` or ``sis_login_id:jdoe``. Rosters write Canvas ids as
``canvas:123``; :func:`user_ref` and friends turn roster spellings into refs.
Pure functions only: no I/O.
"""

from __future__ import annotations

import re

_NUMERIC = re.compile(r"\A\d{1,19}\Z")
_CANVAS = re.compile(r"\Acanvas:(\d{1,19})\Z")


def _ref(value: str, sis_column: str) -> str:
    text = value.strip()
    match = _CANVAS.match(text)
    if match:
        return match.group(1)
    return f"{sis_column}:{text}"


def course_ref(value: str) -> str:
    """Roster spelling of a course (SIS id or ``canvas:N``) -> ref."""
    return _ref(value, "sis_course_id")


def section_ref(value: str) -> str:
    """Roster spelling of a section (SIS id or ``canvas:N``) -> ref."""
    return _ref(value, "sis_section_id")


def user_ref(value: str, *, kind: str = "sis") -> str:
    """Roster spelling of a user -> ref. ``kind`` is sis, integration or login."""
    column = {"sis": "sis_user_id", "integration": "sis_integration_id", "login": "sis_login_id"}[kind]
    return _ref(value, column)


def is_numeric(ref: str) -> bool:
    """True when ``ref`` is a plain Canvas id."""
    return bool(_NUMERIC.match(ref))


def split_ref(ref: str) -> tuple[str, str]:
    """``"sis_user_id:s001"`` -> ``("sis_user_id", "s001")``; ``"123"`` -> ``("id", "123")``."""
    if is_numeric(ref):
        return "id", ref
    column, _, value = ref.partition(":")
    return column, value
