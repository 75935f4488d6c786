"""Cell parsers: dates, booleans, refs, statuses (pure, no files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reconcile.roster import values as V
from reconcile.roster.problems import Problem, did_you_mean
from tests.roster.helpers import load, write


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


def test_booleans(tmp_path: Path) -> None:
    text = "course_id,user_id,role,status,limit_section_privileges,notify\n" + "".join(
        f"C1,u{i},student,active,{limit},{notify}\n"
        for i, (limit, notify) in enumerate([("true", "FALSE"), ("1", "no"), ("", ""), ("Yes", "t")])
    )
    d = load(write(tmp_path / "e.csv", text)).desired
    assert list(d["limit_section_privileges"]) == [True, True, False, True]
    assert [None if pd.isna(v) else bool(v) for v in d["notify"]] == [False, False, None, True]


def test_refs_and_user_spellings(tmp_path: Path) -> None:
    text = "course_id,section_id,user_id,role,status\nMATH101,canvas:12,canvas:7,student,active\n"
    row = load(write(tmp_path / "e.csv", text)).desired.iloc[0]
    assert (row["course"], row["section"], row["user"]) == ("sis_course_id:MATH101", "12", "7")
    users = pd.Series(["s1", "integration:i1", "login:jo", "canvas:7", "sis:a:b"], dtype=object)
    assert list(V.user_refs(users)) == [
        "sis_user_id:s1",
        "sis_integration_id:i1",
        "sis_login_id:jo",
        "7",
        "sis_user_id:a:b",
    ]


def test_statuses_are_case_insensitive_and_trimmed(tmp_path: Path) -> None:
    text = "course_id,user_id,role,status\nC1,u1,student,Active\nC1,u2,student, deleted_last_completed \n"
    assert list(load(write(tmp_path / "e.csv", text)).desired["status"]) == [
        "active",
        "deleted_last_completed",
    ]


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
