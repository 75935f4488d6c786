"""Reading the provisioning report into the current-state frame (pure: bytes in, frame out)."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from reconcile.canvas.report import (
    CANNOT_TELL,
    ENROLLMENT_COLUMNS,
    ReportError,
    _files,
    parse_enrollments,
    parse_xlist,
)
from reconcile.frames import CURRENT_COLUMNS

HEADER = ",".join(ENROLLMENT_COLUMNS)


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def test_rows_take_the_current_frame_shape_with_what_the_report_cannot_tell_left_empty() -> None:
    data = _csv(
        "101,MATH101,7,S7,student,3,201,MATH101-A,active,,,true,StudentEnrollment,false,9001",
        "101,MATH101,8,P8,observer,7,201,MATH101-A,concluded,7,S7,false,ObserverEnrollment,true,9002",
        "102,,9,,Tutor,21,202,,invited,,,false,TaEnrollment,false,9003",
    )
    frame = parse_enrollments(data, source="provisioning report 5")
    assert list(frame.columns) == [*CURRENT_COLUMNS, "source", "cannot_tell"]
    assert frame["id"].tolist() == [9001, 9002, 9003]
    assert frame["state"].tolist() == ["active", "completed", "invited"]  # concluded is Canvas's completed
    # SIS words for built-in roles, as the Enrollments API names them; a custom role's label kept
    assert frame["role"].tolist() == ["StudentEnrollment", "ObserverEnrollment", "Tutor"]
    assert frame["type"].tolist() == ["StudentEnrollment", "ObserverEnrollment", "TaEnrollment"]
    assert frame["sis_course_id"].isna().tolist() == [False, False, True]
    assert frame["associated_user_id"].tolist()[1] == 7
    assert frame["limit_privileges_to_course_section"].tolist() == [False, True, False]
    # created_by_sis: the Enrollments API's sis_import_id is present exactly then
    assert frame["sis_import_id"].notna().tolist() == [True, False, False]
    for column in ("start_at", "end_at", "updated_at", "last_attended_at"):
        assert frame[column].isna().all(), column
        assert column in frame["cannot_tell"].iloc[0].split()
    assert set(frame["source"]) == {"provisioning report 5"}
    assert frame["last_attended_hidden"].all()  # unknown, not empty
    for name, dtype in CURRENT_COLUMNS.items():
        assert str(frame[name].dtype) == dtype, name
    assert set(CANNOT_TELL) <= set(CURRENT_COLUMNS)


def test_an_unknown_status_names_its_line_and_column() -> None:
    data = _csv(
        "101,MATH101,7,S7,StudentEnrollment,3,201,,active,,,false,StudentEnrollment,false,9001",
        "101,MATH101,8,S8,StudentEnrollment,3,201,,pending,,,false,StudentEnrollment,false,9002",
    )
    with pytest.raises(ReportError, match=r"line 3, column status: unknown status 'pending'"):
        parse_enrollments(data, source="provisioning report 5")


def test_a_bad_id_names_its_line_and_column() -> None:
    data = _csv("101,MATH101,x7,S7,StudentEnrollment,3,201,,active,,,false,StudentEnrollment,false,9001")
    with pytest.raises(ReportError, match=r"line 2, column canvas_user_id: not a Canvas id: 'x7'"):
        parse_enrollments(data, source="provisioning report 5")


def test_a_missing_column_is_named() -> None:
    data = b"canvas_course_id,course_id\n1,A\n"
    with pytest.raises(ReportError, match="no column canvas_user_id"):
        parse_enrollments(data, source="provisioning report 5")


def test_an_empty_report_is_an_empty_frame() -> None:
    frame = parse_enrollments(_csv(), source="r")
    assert frame.empty
    assert list(frame.columns)[: len(CURRENT_COLUMNS)] == list(CURRENT_COLUMNS)


def test_cross_listings_read_where_a_section_is_and_where_it_came_from() -> None:
    data = (
        b"canvas_xlist_course_id,xlist_course_id,canvas_section_id,section_id,status,"
        b"canvas_nonxlist_course_id,nonxlist_course_id\n102,B,201,A-1,active,101,A\n"
    )
    frame = parse_xlist(data, source="r")
    assert frame.to_dict("records") == [
        {"section_id": 201, "course_id": 102, "nonxlist_course_id": 101, "state": "active"}
    ]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_several_kinds_come_as_a_zip_of_one_csv_each_and_one_kind_as_the_csv() -> None:
    files = _files(_zip({"enrollments.csv": b"e", "xlist.csv": b"x"}), ("enrollments", "xlist"), 5)
    assert files == {"enrollments": b"e", "xlist": b"x"}
    assert _files(b"canvas_course_id\n", ("enrollments",), 5) == {"enrollments": b"canvas_course_id\n"}
    with pytest.raises(ReportError, match="no xlist.csv"):
        _files(_zip({"enrollments.csv": b"e"}), ("enrollments", "xlist"), 5)
    with pytest.raises(ReportError, match="expected a zip"):
        _files(b"canvas_course_id\n", ("enrollments", "xlist"), 5)


def test_duplicate_rows_of_several_logins_are_kept_for_the_caller_to_see() -> None:
    row = "101,MATH101,7,{sis},StudentEnrollment,3,201,,active,,,false,StudentEnrollment,false,9001"
    frame = parse_enrollments(_csv(row.format(sis="S7"), row.format(sis="ALT7")), source="r")
    assert frame["id"].tolist() == [9001, 9001]
    assert frame["sis_user_id"].tolist() == ["S7", "ALT7"]
    assert isinstance(frame, pd.DataFrame)
