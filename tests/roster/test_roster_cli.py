"""`reconcile validate`: exit codes, streams, text and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from tests.roster.helpers import HEADER, write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_valid_roster_prints_a_summary_on_stdout() -> None:
    code, out, err = _run(
        str(EXAMPLES / "sis-export/enrollments.csv"), "-c", str(EXAMPLES / "sis-export/reconcile.yaml")
    )
    assert code == 0, err
    assert err == ""
    assert out.startswith("valid: 43 enrollments from 43 rows in 1 input")
    assert "courses 3, sections 4, users 34" in out
    assert "by role:   DesignerEnrollment 1, Grader 1, ObserverEnrollment 3, StudentEnrollment 33" in out
    assert "by status: active 39, completed 2, inactive 2" in out


def test_warnings_go_to_stderr_and_still_exit_0(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", HEADER + "C1,,p1,observer,active,,,,\n")
    code, out, err = _run(str(path))
    assert code == 0
    assert f"{path}:2: warning: column associated_user_id: observer without associated_user_id" in err
    assert "1 warning (on stderr)" in out


def test_errors_are_sorted_by_file_and_row_on_stderr(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", HEADER + "C1,,u1,student,actve,,,,\n" + "C1,,u2,studnet,active,,,,\n")
    b = write(tmp_path / "b.csv", HEADER + "C1,,u3,student,active,3/1/2026,2026-12-18,,\n")
    code, out, err = _run(str(b), str(a))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines == [
        f'{a}:2: column status: unknown status "actve" (did you mean "active"?)',
        f'{a}:3: column role: unknown role "studnet" (did you mean "student"?)',
        f"{b}:2: column start_date: ambiguous spreadsheet date '3/1/2026': day and month order unknown; "
        "write ISO 8601, 2026-03-01 (month first) or 2026-01-03 (day first)",
        "invalid: 3 errors, 0 warnings",
    ]


def test_json_output_is_one_document(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", HEADER + "C1,,u1,studnet,active,,,,\n")
    code, out, _ = _run(str(path), "--output", "json")
    assert code == 1
    document = json.loads(out)
    assert document["valid"] is False
    assert document["problems"] == [
        {
            "severity": "error",
            "file": str(path),
            "row": "2",
            "column": "role",
            "code": "unknown_role",
            "message": 'unknown role "studnet" (did you mean "student"?)',
        }
    ]
    assert document["inputs"][0]["format"] == "sis-csv"
    code, out, _ = _run(
        str(EXAMPLES / "yaml/roster.yaml"), "-c", str(EXAMPLES / "yaml/reconcile.yaml"), "--output", "json"
    )
    assert code == 0 and json.loads(out)["summary"]["rows"] == 43


def test_format_override(tmp_path: Path) -> None:
    path = write(tmp_path / "roster.txt", "course_id,user_id,role,status\nC1,u1,student,active\n")
    assert _run(str(path), "--format", "yaml")[0] == 1
    assert _run(str(path), "--format", "sis-csv")[0] == 0


def test_bad_config_and_usage_errors_exit_1(tmp_path: Path) -> None:
    config = write(tmp_path / "reconcile.yaml", "canvas:\n  token: abc\n")
    code, out, err = _run(str(EXAMPLES / "yaml/roster.yaml"), "-c", str(config))
    assert code == 1 and "CANVAS_API_TOKEN" in err and "abc" not in err
    assert _run()[0] == 1
    assert _run("--output", "xml", "x.csv")[0] == 1
    assert _run(str(tmp_path / "missing.csv"))[0] == 1


def test_no_traceback_for_binary_garbage(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.csv", bytes(range(256)) * 10)
    proc = subprocess.run(
        [sys.executable, "-m", "reconcile", "validate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "encoding" not in proc.stdout
    assert "not UTF-8" in proc.stderr or "NUL byte" in proc.stderr


def test_reconcile_yaml_in_the_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = write(tmp_path / "e.csv", "course_id,user_id,role,status\nC1,u1,Grader,active\n")
    monkeypatch.chdir(tmp_path)
    assert _run(str(roster))[0] == 1  # Grader is not declared yet
    write(tmp_path / "reconcile.yaml", "roster:\n  custom_roles: {Grader: ta}\n")
    assert _run(str(roster))[0] == 0
