"""Link header parsing (facts §8) and ref escaping for URL paths (facts §9)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.canvas.links import link_header, parse_link_header
from reconcile.canvas.refs import normalize, segment

CANVAS_LINK = (
    '<http://h/api/v1/courses/1/enrollments?page=first&per_page=10>; rel="current",'
    '<http://h/api/v1/courses/1/enrollments?page=bookmark:WyJTdHVkZW50RW5yb2xsbWVudCIsIm4iLDVd&per_page=10>; rel="next",'
    '<http://h/api/v1/courses/1/enrollments?page=first&per_page=10>; rel="first"'
)


def test_parse_canvas_link_header_without_spaces() -> None:
    links = parse_link_header(CANVAS_LINK)
    assert links["next"].endswith("page=bookmark:WyJTdHVkZW50RW5yb2xsbWVudCIsIm4iLDVd&per_page=10")
    assert set(links) == {"current", "next", "first"}


def test_parse_link_header_variants() -> None:
    assert parse_link_header(None) == {}
    assert parse_link_header("garbage") == {}
    links = parse_link_header('<https://a/x?a=1,2>; REL=next ; title="t", <https://a/y>;rel="prev last"')
    assert links == {"next": "https://a/x?a=1,2", "prev": "https://a/y", "last": "https://a/y"}


def test_link_header_lookup_is_case_insensitive() -> None:
    assert link_header({"link": "<u>; rel=next"}) == "<u>; rel=next"
    assert link_header({"LINK": "<u>"}) == "<u>"
    assert link_header({"Content-Type": "x"}) is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (123, "123"),
        ("123", "123"),
        ("canvas:77", "77"),
        ("sis_course_id:MATH101", "sis_course_id:MATH101"),
        ("sis_course_id:A/B 2", "sis_course_id:A%2FB%202"),
        ("sis_user_id:jöe", "sis_user_id:j%C3%B6e"),
        ("sis_login_id:a@b.edu", "sis_login_id:a%40b.edu"),
        ("sis_section_id:S?1#2", "sis_section_id:S%3F1%232"),
        ("sis_integration_id:x%y", "sis_integration_id:x%25y"),
        ("hex:sis_user_id:41313233", "hex:sis_user_id:41313233"),
        ("self", "self"),
    ],
)
def test_segment_escapes_refs(ref: str | int, expected: str) -> None:
    assert segment(ref) == expected


@pytest.mark.parametrize("bad", ["", "  ", "12a", "canvas:x", "course:1", -1, True, "sis_bogus_id:1"])
def test_normalize_rejects_malformed_refs(bad: object) -> None:
    with pytest.raises(ValueError):
        normalize(bad)  # type: ignore[arg-type]


@given(st.text(min_size=1).filter(lambda s: s.strip() == s and s != ""))
def test_segment_round_trips_any_sis_value(value: str) -> None:
    ref = f"sis_user_id:{value}"
    escaped = segment(ref)
    assert "/" not in escaped and "?" not in escaped and "#" not in escaped
    assert unquote(escaped) == ref
