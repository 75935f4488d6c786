"""The malformed-file corpus: each file's problems, exactly, and `reconcile validate` exits 1.

Every entry lists every problem the file must produce: (severity, file relative to the
corpus, row, column, code). Nothing more may appear, so a new spurious problem fails too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.cli.validate import validate
from reconcile.roster import load_rosters

CORPUS = Path(__file__).parent / "corpus"
E, W = "error", "warning"

EXPECTED: dict[str, list[tuple[str, str, str | None, str | None, str]]] = {
    "latin1.csv": [(E, "latin1.csv", "4", None, "encoding")],
    "utf16.csv": [(E, "utf16.csv", None, None, "encoding")],
    "nul_byte.csv": [(E, "nul_byte.csv", "3", None, "encoding")],
    "empty.csv": [(E, "empty.csv", None, None, "empty_file")],
    "header_only.csv": [(E, "header_only.csv", None, None, "empty_file")],
    "unclosed_quote.csv": [(E, "unclosed_quote.csv", "4", None, "truncated")],
    "short_last_row.csv": [(E, "short_last_row.csv", "4", None, "truncated")],
    "extra_field.csv": [(E, "extra_field.csv", "3", None, "field_count")],
    "missing_status_column.csv": [(E, "missing_status_column.csv", "1", "status", "missing_column")],
    "renamed_course.csv": [
        (W, "renamed_course.csv", "1", "course", "unknown_column"),
        (E, "renamed_course.csv", "1", "course_id", "missing_column"),
    ],
    "duplicate_header.csv": [(E, "duplicate_header.csv", "1", "role", "duplicate_column")],
    "semicolons.csv": [(E, "semicolons.csv", "1", None, "wrong_delimiter")],
    "blank_first_line.csv": [(E, "blank_first_line.csv", "1", None, "no_header")],
    "unknown_role.csv": [(E, "unknown_role.csv", "3", "role", "unknown_role")],
    "unknown_status.csv": [(E, "unknown_status.csv", "3", "status", "unknown_status")],
    "missing_status_value.csv": [(E, "missing_status_value.csv", "3", "status", "missing_value")],
    "excel_date.csv": [(E, "excel_date.csv", "2", "start_date", "bad_date")],
    "impossible_date.csv": [(E, "impossible_date.csv", "2", "end_date", "bad_date")],
    "garbage_date.csv": [(E, "garbage_date.csv", "3", "start_date", "bad_date")],
    "end_before_start.csv": [(E, "end_before_start.csv", "2", "end_date", "end_before_start")],
    "observee_on_student.csv": [
        (E, "observee_on_student.csv", "3", "associated_user_id", "observee_on_non_observer")
    ],
    "observes_self.csv": [(E, "observes_self.csv", "3", "associated_user_id", "observes_self")],
    "conflicting_status.csv": [(E, "conflicting_status.csv", "4", "status", "conflicting_rows")],
    "conflicting_dates.csv": [(E, "conflicting_dates.csv", "3", "end_date", "conflicting_rows")],
    "empty_user.csv": [(E, "empty_user.csv", "3", "user_id", "missing_value")],
    "malformed_canvas_id.csv": [(E, "malformed_canvas_id.csv", "2", "course_id", "malformed_id")],
    "control_char_id.csv": [(E, "control_char_id.csv", "2", "user_id", "malformed_id")],
    "section_without_course.csv": [
        (E, "section_without_course.csv", "3", "course_id", "section_without_course")
    ],
    "bad_boolean.csv": [(E, "bad_boolean.csv", "2", "limit_section_privileges", "bad_boolean")],
    "bad_role_id.csv": [(E, "bad_role_id.csv", "2", "role_id", "malformed_id")],
    "temporary_enrollment.csv": [
        (E, "temporary_enrollment.csv", "2", "temporary_enrollment_source_user_id", "unsupported")
    ],
    "section_in_two_courses.csv": [
        (E, "section_in_two_courses.csv", "3", "section_id", "section_in_two_courses")
    ],
    "many_errors.csv": [
        (E, "many_errors.csv", "2", "limit_section_privileges", "bad_boolean"),
        (E, "many_errors.csv", "2", "role", "unknown_role"),
        (E, "many_errors.csv", "2", "start_date", "bad_date"),
        (E, "many_errors.csv", "2", "status", "unknown_status"),
    ],
    "yaml_syntax.yaml": [(E, "yaml_syntax.yaml", "4", None, "yaml_syntax")],
    "yaml_schema.yaml": [
        (E, "yaml_schema.yaml", "courses[0].sections[0].status", "status", "schema"),
        (E, "yaml_schema.yaml", "courses[0].studnets", "studnets", "schema"),
    ],
    "yaml_bad_date.yaml": [(E, "yaml_bad_date.yaml", "courses[0].start_date", "start_date", "schema")],
    "yaml_unknown_role.yaml": [
        (E, "yaml_unknown_role.yaml", "courses[0].other_roles.Grdr[0]", "role", "unknown_role")
    ],
    "yaml_empty.yaml": [(E, "yaml_empty.yaml", None, None, "empty_file")],
    "yaml_observer_conflict.yaml": [
        (E, "yaml_observer_conflict.yaml", "courses[0].enrollments[0]", "status", "conflicting_rows")
    ],
    "oneroster_unknown_class": [
        (E, "oneroster_unknown_class/enrollments.csv", "3", "classSourcedId", "unknown_class")
    ],
    "oneroster_unknown_user": [
        (E, "oneroster_unknown_user/enrollments.csv", "3", "userSourcedId", "unknown_user")
    ],
    "oneroster_bad_role": [(E, "oneroster_bad_role/enrollments.csv", "3", "role", "unknown_role")],
    "oneroster_bad_status": [
        (W, "oneroster_bad_status/enrollments.csv", None, None, "delta"),
        (E, "oneroster_bad_status/enrollments.csv", "3", "status", "unknown_status"),
    ],
    "oneroster_missing_enrollments": [(E, "oneroster_missing_enrollments", None, None, "missing_file")],
    "oneroster_bad_agent": [(E, "oneroster_bad_agent/users.csv", "2", "agentSourcedIds", "unknown_user")],
}


def test_corpus_is_complete() -> None:
    on_disk = sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith("."))
    assert on_disk == sorted(EXPECTED)
    assert len(on_disk) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_problems_are_exactly_as_expected(name: str) -> None:
    result = load_rosters([CORPUS / name])
    prefix = str(CORPUS) + "/"
    found = [(p.severity, p.file.removeprefix(prefix), p.row, p.column, p.code) for p in result.problems]
    assert found == EXPECTED[name]
    assert not result.ok
    for problem in result.errors:
        assert problem.message and str(problem).startswith(problem.file)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_exits_1_and_lists_every_error(name: str) -> None:
    result = CliRunner().invoke(validate, [str(CORPUS / name)])
    assert result.exit_code == 1, result.output
    errors = [e for e in EXPECTED[name] if e[0] == "error"]
    lines = [
        line for line in result.stderr.splitlines() if line.startswith(str(CORPUS)) and "warning:" not in line
    ]
    assert len(lines) == len(errors)
    assert "Traceback" not in result.output
