"""``reconcile export`` end to end against the simulator, and the snapshot formats."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile

import pandas as pd
import pytest
from canvas_helpers import ADMIN, many_seed, university_seed
from click.testing import CliRunner
from terminal import run_on_a_terminal

from reconcile.canvas import current
from reconcile.canvas.sis_export import SIS_COLUMNS, sis_frame, write_sis_csv
from reconcile.canvas.snapshot import SnapshotError, read_report_csv, read_snapshot, write_snapshot
from reconcile.cli import cli
from reconcile.cli import export as export_command
from reconcile.frames import CURRENT_COLUMNS, empty_frame
from reconcile.roster import csv_safe as escape_cell

UNI_COURSES = ["--course", "MATH101-F26", "--course", "canvas:102", "--course", "sis_course_id:HIST200-F26"]


def run(served, args: list[str], *, token: str = ADMIN):  # type: ignore[no-untyped-def]
    env = {"CANVAS_API_URL": served.url, "CANVAS_API_TOKEN": token}
    return CliRunner().invoke(cli, ["export", *args], env=env, catch_exceptions=False)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_sis_csv_export_of_three_courses(uni) -> None:  # type: ignore[no-untyped-def]
    result = run(uni, UNI_COURSES)
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == [
        "course_id",
        "section_id",
        "user_id",
        "role",
        "role_id",
        "status",
        "start_date",
        "end_date",
        "associated_user_id",
        "limit_section_privileges",
    ]
    by = {(r["course_id"], r["user_id"], r["role"]): r for r in rows}
    assert by[("MATH101-F26", "S0011", "student")]["status"] == "invited"  # a pending invitation stays one
    assert by[("MATH101-F26", "S0014", "student")]["status"] == "deleted"  # rejected -> deleted
    assert by[("MATH101-F26", "S0012", "student")]["status"] == "completed"
    assert by[("MATH101-F26", "S0010", "student")]["status"] == "inactive"
    observer = by[("MATH101-F26", "P0001", "observer")]
    assert observer["associated_user_id"] == "S0001"
    grader = by[("MATH101-F26", "G2002", "Grader")]
    assert grader["role_id"] == "10"
    late = by[("MATH101-F26", "S0009", "student")]
    assert (late["start_date"], late["end_date"]) == ("2026-09-01T00:00:00Z", "2026-12-15T23:59:59Z")
    assert by[("BIO110-F26", "G2003", "ta")]["limit_section_privileges"] == "true"
    assert by[("BIO110-F26", "G2003", "ta")]["section_id"] == "BIO110-F26-B"
    # test student and the temporary teacher are left out
    assert not [r for r in rows if r["user_id"] in {"T1005", "canvas:39"}]
    assert len(rows) == 19 - 1 + 16 + 9 - 1
    # quiet when not on a terminal and writing to stdout, but for what the config lacks:
    assert result.stderr == (
        "The export names 1 custom role that the config does not declare; add this to reconcile.yaml "
        "before planning it (or use --config-out FILE):\n"
        "  roster:\n    custom_roles:\n      Grader: ta\n"
    )


def test_json_export_round_trips_through_read_snapshot(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "current.json"
    result = run(uni, [*UNI_COURSES, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported 44 enrollments from 3 courses" in result.stderr
    document = json.loads(out.read_text())
    assert document["format_version"] == 1 and document["canvas_url"] == uni.url
    assert ADMIN not in out.read_text()
    with uni.client() as client:
        live = client.fetch_current(["sis_course_id:MATH101-F26", "102", "sis_course_id:HIST200-F26"])
    pd.testing.assert_frame_equal(read_snapshot(out), live)


def test_json_export_to_standard_output(uni) -> None:  # type: ignore[no-untyped-def]
    result = run(uni, [*UNI_COURSES, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format"] == "canvas-reconcile-snapshot" and len(document["enrollments"]) == 44


def test_account_export_of_current_states(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run(
        uni, ["--account", "1", "--state", "current", "--format", "json", "--out", str(tmp_path / "a.json")]
    )
    assert result.exit_code == 0, result.output
    frame = read_snapshot(tmp_path / "a.json")
    assert set(frame["state"]) == {"active", "invited", "creation_pending", "inactive"}
    assert set(frame["course_id"].tolist()) == {101, 102, 103, 104, 105}


def test_account_export_of_one_term(uni) -> None:  # type: ignore[no-untyped-def]
    spring = run(uni, ["--account", "1", "--term", "sis_term_id:T2026SP"])
    assert spring.exit_code == 0, spring.output
    assert {r["course_id"] for r in rows_of(spring.stdout)} == {"MATH210-S26"}
    fall = rows_of(run(uni, ["--account", "1", "--term", "canvas:2"]).stdout)
    current = rows_of(
        run(uni, ["--account", "1", "--term", "current"]).stdout
    )  # the simulator's now: 2026-10-15
    assert fall == current and "MATH210-S26" not in {r["course_id"] for r in fall}
    assert {r["course_id"] for r in fall} >= {"MATH101-F26", "BIO110-F26", "HIST200-F26"}


def test_courses_file(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "courses.txt"
    listing.write_text("# fall courses\nMATH101-F26\n\ncanvas:104  # unpublished\n")
    result = run(uni, ["--courses-file", str(listing)])
    assert result.exit_code == 0, result.output
    assert {r["course_id"] for r in rows_of(result.stdout)} == {"MATH101-F26", "ENG305-F26"}


def test_formula_cells_are_escaped(serve) -> None:  # type: ignore[no-untyped-def]
    seed = many_seed(2, 2, course_sis=lambda c: ['=HYPERLINK("x")', "+1"][c])
    seed["users"][1]["sis_user_id"] = "-2+3"
    seed["users"][2]["sis_user_id"] = "@SUM(A1)"
    served = serve(seed)
    result = run(served, ["--course", 'sis_course_id:=HYPERLINK("x")', "--course", "sis_course_id:+1"])
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert {r["course_id"] for r in rows} == {'\'=HYPERLINK("x")', "'+1"}
    assert {r["user_id"] for r in rows} == {"'-2+3", "'@SUM(A1)"}
    assert escape_cell("plain") == "plain" and escape_cell("\t=1") == "'\t=1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of"),
        (["--course", "X", "--account", "1"], "exactly one of"),
        (["--course", "NOPE-1"], "course sis_course_id:NOPE-1 not found"),
        (["--account", "99"], "account 99 not found"),
        (["--account", "1", "--term", "sis_term_id:NOPE"], "account 1 or term sis_term_id:NOPE not found"),
        (["--account", "1", "--term", "T2026SP"], "not a Canvas id or SIS ref: 'T2026SP'"),
        (["--course", "MATH101-F26", "--term", "2"], "--term goes with --account"),
        (["--account", "NU-SCI"], "not a Canvas id"),
    ],
)
def test_errors_are_one_line_and_exit_1(uni, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run(uni, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert ADMIN not in result.output


def test_bad_token_and_missing_token(uni) -> None:  # type: ignore[no-untyped-def]
    secret = "wrong-secret-token"
    result = run(uni, UNI_COURSES, token=secret)
    assert result.exit_code == 1 and "Invalid access token" in result.stderr and secret not in result.output
    missing = CliRunner().invoke(
        cli, ["export", *UNI_COURSES], env={"CANVAS_API_URL": uni.url, "CANVAS_API_TOKEN": ""}
    )
    assert missing.exit_code == 1 and "CANVAS_API_TOKEN" in missing.stderr


def test_failed_export_leaves_no_partial_file(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "e.csv"
    result = run(uni, ["--course", "NOPE", "--out", str(out)])
    assert result.exit_code == 1 and not out.exists() and not list(tmp_path.iterdir())


def test_failure_after_some_courses_were_written_prints_nothing(uni, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(current._Chunks, "ROWS", 1)  # every course is its own chunk, written at once
    courses = ["--course", "MATH101-F26", "--course", "canvas:102", "--course", "NOPE-2"]
    for extra in ([], ["--out", str(tmp_path / "e.csv")]):
        result = run(uni, [*courses, *extra])
        assert result.exit_code == 1 and "course sis_course_id:NOPE-2 not found" in result.stderr
        assert result.stdout == "" and not list(tmp_path.iterdir())


def test_streamed_csv_equals_the_csv_of_the_whole_frame(uni, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    refs = ["sis_course_id:HIST200-F26", "101", "105", "102", "104"]
    with uni.client(per_page=4) as client:
        whole = client.fetch_current(refs)
    monkeypatch.setattr(current._Chunks, "ROWS", 3)
    with uni.client(per_page=4, concurrency=1) as client:  # courses finish in order: a chunk each
        chunks = list(client.fetch_current_chunks(refs))
    assert len(chunks) >= 4
    streamed, at_once = io.StringIO(), io.StringIO()
    assert write_sis_csv(iter(chunks), streamed) == write_sis_csv(whole, at_once)
    assert streamed.getvalue() == at_once.getvalue()
    rows = rows_of(streamed.getvalue())
    # courses in the order asked; within one, sorted by section, then user
    assert list(dict.fromkeys(r["course_id"] for r in rows))[:2] == ["HIST200-F26", "MATH101-F26"]
    math = [(r["section_id"], r["user_id"], r["role"]) for r in rows if r["course_id"] == "MATH101-F26"]
    assert math == sorted(math)
    observer = next(r for r in rows if r["user_id"] == "P0001")
    assert observer["associated_user_id"] == "S0001"


def test_standard_output_held_in_a_temporary_file_when_large(uni, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    in_memory = run(uni, UNI_COURSES)
    monkeypatch.setattr(export_command, "HELD_IN_MEMORY", 200)  # the CSV is ~2 KB: spills to disk
    made = []

    class Recorded(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", Recorded)
    spilled = run(uni, UNI_COURSES)
    assert spilled.exit_code == 0 and spilled.stdout == in_memory.stdout and len(in_memory.stdout) > 1000
    assert [held._rolled for held in made] == [True]  # type: ignore[attr-defined]


def test_a_course_named_twice_is_exported_once(uni) -> None:  # type: ignore[no-untyped-def]
    twice = run(uni, ["--course", "HIST200-F26", "--course", "canvas:103"])
    once = run(uni, ["--course", "HIST200-F26"])
    assert twice.exit_code == 0 and twice.stdout == once.stdout and len(rows_of(once.stdout)) == 8


def test_export_of_no_rows_is_the_header_alone() -> None:
    out = io.StringIO()
    assert write_sis_csv(iter([]), out) == (0, 0)
    assert out.getvalue() == ",".join(SIS_COLUMNS) + "\r\n"
    whole = io.StringIO()
    write_sis_csv(empty_frame(CURRENT_COLUMNS), whole)
    assert whole.getvalue() == out.getvalue()


REPORT = """canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,section_id,status,canvas_associated_user_id,associated_user_id,created_by_sis,base_role_type,limit_section_privileges,canvas_enrollment_id
101,MATH101-F26,10,S0001,student,3,201,MATH101-F26-01,active,,,true,StudentEnrollment,false,1004
101,MATH101-F26,38,P0001,observer,7,201,MATH101-F26-01,active,10,S0001,false,ObserverEnrollment,false,1018
101,MATH101-F26,8,G2002,Grader,10,201,MATH101-F26-01,concluded,,,false,TaEnrollment,true,1003
77,,9,,ta,5,88,,invited,,,false,TaEnrollment,false,5000
"""


def test_provisioning_report_csv_reads_into_current_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "enrollments.csv"
    path.write_text("\ufeff" + REPORT)
    frame = read_snapshot(path)
    assert list(frame.columns) == list(CURRENT_COLUMNS)
    rows = frame.set_index("id")
    assert (
        rows.loc[1004, "course_ref"] == "sis_course_id:MATH101-F26"
        and rows.loc[1004, "role"] == "StudentEnrollment"
    )
    assert rows.loc[1004, "sis_import_id"] == 0 and pd.isna(rows.loc[1018, "sis_import_id"])
    assert rows.loc[1018, "associated_user_id"] == 10
    assert rows.loc[1003, "role"] == "Grader" and rows.loc[1003, "state"] == "completed"
    assert bool(rows.loc[1003, "limit_privileges_to_course_section"]) is True
    assert rows.loc[5000, "course_ref"] == "77" and rows.loc[5000, "state"] == "invited"


def test_snapshot_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "v2.json").write_text(
        json.dumps({"format": "canvas-reconcile-snapshot", "format_version": 2, "enrollments": []})
    )
    (tmp_path / "plan.json").write_text(json.dumps({"format_version": 1, "operations": []}))
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    (tmp_path / "badstatus.csv").write_text(REPORT.replace("concluded", "exploded"))
    for name, message in [
        ("v2.json", "format_version 2"),
        ("plan.json", "not a canvas-reconcile snapshot"),
        ("other.csv", "missing canvas_course_id"),
        ("badstatus.csv", "unknown status 'exploded'"),
    ]:
        with pytest.raises(SnapshotError, match=message):
            read_snapshot(tmp_path / name)


def test_empty_snapshot_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "empty.json"
    with path.open("wb") as fh:
        write_snapshot(empty_frame(CURRENT_COLUMNS), fh)
    pd.testing.assert_frame_equal(read_snapshot(path), empty_frame(CURRENT_COLUMNS), check_index_type=False)
    rows, skipped = sis_frame(empty_frame(CURRENT_COLUMNS))
    assert rows.empty and skipped == 0


def test_report_reader_accepts_a_text_stream() -> None:
    assert len(read_report_csv(io.StringIO(REPORT))) == 4
    assert university_seed()["tokens"]  # the seed the other tests rely on is present


def test_progress_bar_on_a_terminal_only(serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    served = serve(many_seed(40, 3), latency_ms=150)  # 40 courses, 8 at a time: about 0.8 s of fetching
    env = dict(os.environ, CANVAS_API_URL=served.url, CANVAS_API_TOKEN=ADMIN, TERM="xterm", COLUMNS="100")
    args = ["export", "--account", "1", "--out", "out.csv", "--format", "sis-csv"]
    code, screen = run_on_a_terminal(args, env=env, cwd=tmp_path)
    assert code == 0, screen
    assert "fetching" in screen and "/40" in screen  # the bar counts courses done out of 40
    assert "Exported 120 enrollments from 40 courses" in screen
    assert len(rows_of((tmp_path / "out.csv").read_text())) == 120
    assert ADMIN not in screen


def test_custom_roles_config_goes_to_a_file_and_makes_the_export_validate(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out, config = tmp_path / "enrollments.csv", tmp_path / "roles.yaml"
    result = run(uni, [*UNI_COURSES, "--out", str(out), "--config-out", str(config)])
    assert result.exit_code == 0, result.output
    assert f"Wrote the roster.custom_roles config for 1 custom role to {config}." in result.stderr
    assert "add this to reconcile.yaml" not in result.stderr
    import yaml

    assert yaml.safe_load(config.read_text()) == {"roster": {"custom_roles": {"Grader": "ta"}}}
    undeclared = CliRunner().invoke(cli, ["validate", str(out)])
    assert undeclared.exit_code == 1 and 'unknown role "Grader"' in undeclared.output
    declared = CliRunner().invoke(cli, ["validate", str(out), "-c", str(config)])
    assert declared.exit_code == 0, declared.output


def test_no_custom_roles_snippet_when_the_config_declares_them(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "reconcile.yaml"
    config.write_text("roster:\n  custom_roles:\n    Grader: ta\n")
    result = run(uni, [*UNI_COURSES, "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    students_only = run(uni, ["--course", "HIST200-F26"])  # no custom role met: nothing to say
    assert students_only.exit_code == 0 and students_only.stderr == ""


def test_summary_counts_nouns_and_ends_with_the_request_figures(uni, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run(uni, ["--course", "HIST200-F26", "--out", str(tmp_path / "one.csv")])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "Exported 8 enrollments from 1 course (1 test-student/temporary enrollment left out)."
    assert re.fullmatch(r"Requests: 1 \(0 retried, 0 throttled\) in \d+\.\d s", lines[1]), lines
