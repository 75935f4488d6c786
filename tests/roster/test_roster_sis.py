"""Canvas SIS enrollments.csv: columns, semantics, dtypes, origins, file quirks."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from reconcile.config import Config, RosterSettings
from reconcile.frames import DESIRED_COLUMNS
from reconcile.roster import csv_safe, load_rosters
from tests.roster.helpers import HEADER, codes, load, write

FULL = (
    "course_id,section_id,user_id,user_integration_id,role,role_id,status,start_date,end_date,"
    "associated_user_id,limit_section_privileges,notify,root_account,last_attended_at\n"
    "MATH101,MATH101-01,s001,,student,,active,2026-08-24,2026-12-18T23:59:59Z,,true,true,,2026-10-01T09:00:00Z\n"
    "MATH101,,p001,,observer,,ACTIVE,,,s001,false,,,\n"
    "canvas:55,canvas:77,canvas:9,,teacher,,completed,,,,,false,,\n"
    "MATH101,MATH101-01,s002,int-2,ta,,deleted_last_completed,,,,,,,\n"
    "MATH101,MATH101-01,s003,,,12,Inactive,,,,,,,\n"
)


def test_every_column_maps_to_the_desired_table(tmp_path: Path) -> None:
    result = load(write(tmp_path / "enrollments.csv", FULL))
    assert result.ok, result.problems
    d = result.desired
    assert list(d.columns) == list(DESIRED_COLUMNS)
    assert {c: str(t) for c, t in d.dtypes.items()} == DESIRED_COLUMNS
    first = d.iloc[0]
    assert first["course"] == "sis_course_id:MATH101"
    assert first["section"] == "sis_section_id:MATH101-01"
    assert first["user"] == "sis_user_id:s001"
    assert first["role"] == first["type"] == "StudentEnrollment"
    assert first["start_at"] == pd.Timestamp("2026-08-24T00:00:00Z")
    assert first["end_at"] == pd.Timestamp("2026-12-18T23:59:59Z")
    assert first["last_attended_at"] == pd.Timestamp("2026-10-01T09:00:00Z")
    assert bool(first["limit_section_privileges"]) and bool(first["notify"])
    assert first["dates_managed"] and first["limit_managed"] and first["last_attended_managed"]
    assert (first["origin_file"], first["origin_row"]) == (str(tmp_path / "enrollments.csv"), "2")
    observer = d.iloc[1]
    assert pd.isna(observer["section"]) and observer["associated_user"] == "sis_user_id:s001"
    assert observer["status"] == "active" and pd.isna(observer["notify"])
    assert observer["limit_section_privileges"] is False or not observer["limit_section_privileges"]
    canvas = d.iloc[2]
    assert (canvas["course"], canvas["section"], canvas["user"]) == ("55", "77", "9")
    # user_integration_id wins over user_id, as in Canvas
    assert d.iloc[3]["user"] == "sis_integration_id:int-2"
    assert d.iloc[3]["status"] == "deleted_last_completed"
    by_id = d.iloc[4]
    assert by_id["role_id"] == 12 and pd.isna(by_id["role"]) and by_id["status"] == "inactive"


def test_absent_columns_are_unmanaged(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.csv", "course_id,user_id,role,status\nC1,u1,student,active\n"))
    row = result.desired.iloc[0]
    assert not row["dates_managed"] and not row["limit_managed"] and not row["last_attended_managed"]
    assert pd.isna(row["limit_section_privileges"]) and pd.isna(row["start_at"])


def test_present_but_empty_means_should_be_empty(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.csv", HEADER + "C1,,u1,student,active,,,,\n"))
    row = result.desired.iloc[0]
    assert row["dates_managed"] and pd.isna(row["start_at"]) and pd.isna(row["end_at"])
    assert (
        row["limit_managed"]
        and row["limit_section_privileges"] is False
        or not row["limit_section_privileges"]
    )


def test_bom_crlf_and_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    text = (
        "course_id,user_id,role,status,note\n"
        + 'C1,"u1",student,active,"two\nlines"\n'
        + "C1,u2,studnet,active,\n"
    )
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    result = load(write(tmp_path / "e.csv", data))
    assert codes(result) == [("1", "note", "unknown_column"), ("4", "role", "unknown_role")]
    assert result.desired.iloc[0]["user"] == "sis_user_id:u1"
    assert result.desired.iloc[0]["origin_row"] == "2"


def test_a_newline_inside_an_id_is_malformed(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.csv", 'course_id,user_id,role,status\nC1,"u\nx",student,active\n'))
    assert codes(result) == [("2", "user_id", "malformed_id")]


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    result = load(
        write(tmp_path / "e.csv", HEADER + "C1,,u1,student,active,,,,\n\nC1,,u2,bogus,active,,,,\n")
    )
    assert codes(result) == [("4", "role", "unknown_role")]
    assert len(result.desired) == 1


def test_formula_cells_are_data(tmp_path: Path) -> None:
    result = load(
        write(
            tmp_path / "e.csv",
            "course_id,user_id,role,status\nC1,=HYPERLINK(1),student,active\nC1,@x,student,active\n",
        )
    )
    assert result.ok
    assert list(result.desired["user"]) == ["sis_user_id:=HYPERLINK(1)", "sis_user_id:@x"]
    assert csv_safe("=1+2") == "'=1+2" and csv_safe("-3") == "'-3" and csv_safe("@a") == "'@a"
    assert csv_safe("+x") == "'+x" and csv_safe("plain") == "plain" and csv_safe(None) == ""


def test_exact_duplicates_warn_and_collapse(tmp_path: Path) -> None:
    row = "C1,S1,u1,student,active,,,,\n"
    result = load(write(tmp_path / "e.csv", HEADER + row + row))
    assert result.ok
    assert codes(result) == [("3", None, "duplicate_row")]
    assert len(result.desired) == 1


def test_conflicts_across_files(tmp_path: Path) -> None:
    a = write(tmp_path / "fall.csv", HEADER + "C1,S1,u1,student,active,,,,\n")
    b = write(tmp_path / "spring.csv", HEADER + "C1,S1,u1,student,completed,,,,\n")
    result = load(a, b)
    assert [(p.file, p.row, p.code) for p in result.errors] == [(str(b), "2", "conflicting_rows")]
    assert str(a) + ":2" in result.errors[0].message


def test_several_files_merge(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", HEADER + "C1,S1,u1,student,active,,,,\n")
    b = write(tmp_path / "b.csv", "course_id,user_id,role,status\nC2,u1,teacher,active\n")
    result = load(a, b)
    assert result.ok and len(result.desired) == 2
    assert [i["rows"] for i in result.inputs] == [1, 1]
    assert result.desired.iloc[1]["dates_managed"] is False or not result.desired.iloc[1]["dates_managed"]


def test_inputs_record_digest_and_format(tmp_path: Path) -> None:
    import hashlib

    path = write(tmp_path / "e.csv", HEADER + "C1,S1,u1,student,active,,,,\n")
    (entry,) = load(path).inputs
    assert entry == {
        "path": str(path),
        "format": "sis-csv",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": 1,
    }


def test_file_like_objects_are_accepted() -> None:
    stream = io.BytesIO(b"course_id,user_id,role,status\nC1,u1,student,active\n")
    result = load_rosters([stream])
    assert result.ok and result.inputs[0]["path"] == "<stream>"
    text = io.StringIO("course_id,user_id,role,status\nC1,u1,teacher,active\n")
    assert load_rosters([text], format="sis-csv").desired.iloc[0]["role"] == "TeacherEnrollment"


def test_custom_roles_must_be_declared(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv", "course_id,user_id,role,status\nC1,u1,Grader,active\nC1,u2,grader,active\n"
    )
    assert [c for _, _, c in codes(load(path))] == ["unknown_role", "unknown_role"]
    config = Config(roster=RosterSettings(custom_roles={"Grader": "TaEnrollment"}))
    result = load(path, config=config)
    # custom role names are case-sensitive, as in Canvas
    assert codes(result) == [("3", "role", "unknown_role")]
    assert (result.desired.iloc[0]["role"], result.desired.iloc[0]["type"]) == ("Grader", "TaEnrollment")


def test_half_dates_warn(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.csv", HEADER + "C1,,u1,student,active,2026-08-24,,,\n"))
    assert result.ok
    assert codes(result) == [("2", "end_date", "half_dates")]


def test_observer_without_observee_warns(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.csv", HEADER + "C1,,p1,observer,active,,,,\n"))
    assert result.ok and codes(result) == [("2", "associated_user_id", "observer_without_observee")]


def test_unknown_columns_warn_and_root_account_is_ignored(tmp_path: Path) -> None:
    text = (
        "course_id,user_id,role,status,root_account,colour\nC1,u1,student,active,other.instructure.com,red\n"
    )
    result = load(write(tmp_path / "e.csv", text))
    assert result.ok
    assert codes(result) == [("1", "colour", "unknown_column"), ("2", "root_account", "ignored")]


def test_every_row_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    rows = "".join(f"C1,,u{i},studnet,active,,,,\n" for i in range(50))
    result = load(write(tmp_path / "e.csv", HEADER + rows))
    assert [p.row for p in result.errors] == [str(i) for i in range(2, 52)]
    assert result.desired.empty


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    result = load(tmp_path / "nope.csv")
    assert codes(result) == [(None, None, "not_found")]
