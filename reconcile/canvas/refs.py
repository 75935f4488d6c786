"""Object references as Canvas accepts them in URL paths (facts §9).

A ref is a plain numeric id or ``<column>:<value>`` (``sis_course_id:MATH 101/F26``).
In a path the value must be UTF-8 percent-escaped, a ``/`` included (``%2F``), or the
web server would read it as another path segment.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_NUMERIC = re.compile(r"\A\d{1,19}\Z")
_PREFIXED = re.compile(r"\A(?:hex:)?[a-z][a-z0-9_]*:.+\Z", re.DOTALL)
_SPECIAL = frozenset({"self", "default", "current", "site_admin"})

SIS_COLUMNS = frozenset(
    {
        "sis_course_id",
        "sis_section_id",
        "sis_user_id",
        "sis_login_id",
        "sis_integration_id",
        "sis_account_id",
        "sis_term_id",
        "lti_context_id",
        "lti_user_id",
        "lti_1_1_id",
        "lti_1_3_id",
        "uuid",
    }
)


def normalize(ref: str | int) -> str:
    """``ref`` as Canvas spells it: ``123`` / ``"canvas:123"`` -> ``"123"``; ``sis_*:X`` kept.

    Raises ``ValueError`` for an empty ref, a negative or non-numeric bare id, or an
    unknown ``column:`` prefix, so a typo fails before any request is made.
    """
    if isinstance(ref, bool):
        raise ValueError(f"not a Canvas id: {ref!r}")
    if isinstance(ref, int):
        if ref < 0:
            raise ValueError(f"not a Canvas id: {ref}")
        return str(ref)
    text = str(ref).strip()
    if not text:
        raise ValueError("empty Canvas id")
    if _NUMERIC.match(text) or text in _SPECIAL:
        return text
    if text.startswith("canvas:") and _NUMERIC.match(text[7:]):
        return text[7:]
    if _PREFIXED.match(text):
        column = text.split(":", 2)[1] if text.startswith("hex:") else text.split(":", 1)[0]
        if column in SIS_COLUMNS:
            return text
        raise ValueError(f"unknown id form {column!r} in {text!r}")
    raise ValueError(f"not a Canvas id or SIS ref: {text!r}")


def segment(ref: str | int) -> str:
    """``ref`` normalised and escaped for one URL path segment (``/`` -> ``%2F``, ``:`` kept)."""
    return quote(normalize(ref), safe=":")
