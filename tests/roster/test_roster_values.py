"""Cell parsers: dates, booleans, refs, statuses (pure, no files)."""

from __future__ import annotations

import pandas as pd
import pytest

from reconcile.roster import values as V
from reconcile.roster.problems import Problem, did_you_mean


def _date(text: str) -> tuple[pd.Timestamp, str]:
    stamps, fault = V.dates(pd.Series([text], dtype=object))
    return stamps.iloc[0], fault.iloc[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-24", "2026-08-24T00:00:00Z"),
        ("2026-08-24T08:00:00Z", "2026-08-24T08:00:00Z"),
        ("2026-08-24 08:00", "2026-08-24T08:00:00Z"),
        ("2026-08-24T08:00:00-05:00", "2026-08-24T13:00:00Z"),
        ("2026-08-24T08:00:00.250+0100", "2026-08-24T07:00:00.250Z"),
    ],
)
def test_iso_dates_parse_to_utc(text: str, expected: str) -> None:
    stamp, fault = _date(text)
    assert fault == "" and stamp == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("3/1/2026 8:00", "2026-03-01T08:00:00Z (month first) or 2026-01-03T08:00:00Z (day first)"),
        ("13/1/2026", "write it as ISO 8601, 2026-01-13"),
        ("1/13/2026 2:30 PM", "2026-01-13T14:30:00Z"),
        ("2026-02-29", "impossible date"),
        ("31/31/2026", "impossible date"),
        ("soon", "unparseable date"),
        ("2026-8-24", "unparseable date"),
    ],
)
def test_non_iso_dates_are_refused_with_a_hint(text: str, fragment: str) -> None:
    stamp, fault = _date(text)
    assert pd.isna(stamp) and fragment in fault


def test_booleans() -> None:
    cells = pd.Series(["true", "FALSE", "1", "no", "", "maybe"], dtype=object)
    parsed, bad = V.booleans(cells, empty=False)
    assert list(parsed) == [True, False, True, False, False, None]
    assert list(bad) == [False, False, False, False, False, True]


def test_refs() -> None:
    ids = pd.Series(["MATH101", "canvas:12", "canvas:x"], dtype=object)
    assert list(V.to_ref(ids, "sis_course_id")) == ["sis_course_id:MATH101", "12", "sis_course_id:canvas:x"]
    assert list(V.id_faults(ids)) == ["", "", "canvas: must be followed by a numeric Canvas id"]
    users = pd.Series(["s1", "integration:i1", "login:jo", "canvas:7", "sis:a:b"], dtype=object)
    assert list(V.user_refs(users)) == [
        "sis_user_id:s1",
        "sis_integration_id:i1",
        "sis_login_id:jo",
        "7",
        "sis_user_id:a:b",
    ]


def test_statuses_are_case_insensitive() -> None:
    assert list(V.statuses(pd.Series(["Active", " deleted_last_completed ", "gone"], dtype=object))) == [
        "active",
        "deleted_last_completed",
        None,
    ]


def test_per_unique_keeps_na() -> None:
    series = pd.Series(["a", None, "a", "b"], dtype=object)
    assert list(V.per_unique(series, lambda u: u.str.upper())) == ["A", None, "A", "B"]


def test_problem_text() -> None:
    problem = Problem("error", "enrollments.csv", "12", "role", "unknown_role", 'unknown role "studnet"')
    assert str(problem) == 'enrollments.csv:12: column role: unknown role "studnet"'
    assert str(Problem("warning", "f.csv", None, None, "x", "m")) == "f.csv: warning: m"
    assert did_you_mean("studnet", ["student", "teacher"]) == ' (did you mean "student"?)'
    assert did_you_mean("zzz", ["student"]) == ""


def test_problems_sort_in_reading_order() -> None:
    from reconcile.roster.problems import sorted_problems

    def at(file: str, row: str | None) -> Problem:
        return Problem("error", file, row, None, "x", "m")

    rows = ["courses[10].students[0]", "10", None, "courses[2].students[11]", "2", "courses[2].students[3]"]
    ordered = [p.row for p in sorted_problems(at("a", r) for r in rows)] + [
        p.row for p in sorted_problems([at("b", "1"), at("a", "9")])
    ]
    assert ordered == [
        None,
        "2",
        "10",
        "courses[2].students[3]",
        "courses[2].students[11]",
        "courses[10].students[0]",
        "9",
        "1",
    ]
