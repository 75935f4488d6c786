"""OneRoster 1.1 and 1.2 CSV, folder and zip: mapping, guardians, deltas, references."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from reconcile.config import Config, OneRosterSettings
from tests.roster.helpers import codes, load, write

MANIFEST_11 = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.enrollments,{mode}\nfile.users,bulk\nfile.classes,bulk\nfile.courses,bulk\n"
COURSES = "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\nCRS-MATH,,,,Calculus,MATH101-F26,,NU,,\n"
CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
    "CLS-1,,,Calc 01,,CRS-MATH,MATH101-F26-01,scheduled,,NU,T1,,,\n"
    "CLS-2,,,Calc 02,,CRS-MATH,MATH101-F26-02,scheduled,,NU,T1,,,\n"
)
USERS_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
    "u-s1,,,true,NU,student,s1,,A,B,,S0001,,,,u-p1,,\n"
    "u-s2,,,true,NU,student,s2,,C,D,,S0002,,,,,,\n"
    "u-t1,,,true,NU,teacher,t1,,E,F,,T1001,,,,,,\n"
    "u-t2,,,true,NU,teacher,t2,,G,H,,T1002,,,,,,\n"
    "u-p1,,,true,NU,parent,p1,,I,J,,P0001,,,,u-s1,,\n"
)
ENROLLMENTS = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
    "e1,,,CLS-1,NU,u-s1,student,false,2026-08-24,2026-12-18\n"
    "e2,,,CLS-2,NU,u-s2,Student,false,,\n"
    "e3,,,CLS-1,NU,u-t1,teacher,true,,\n"
    "e4,,,CLS-1,NU,u-t2,teacher,false,,\n"
)


def _folder(root: Path, mode: str = "bulk", **override: str) -> Path:
    files = {
        "manifest.csv": MANIFEST_11.format(mode=mode),
        "courses.csv": COURSES,
        "classes.csv": CLASSES,
        "users.csv": USERS_11,
        "enrollments.csv": ENROLLMENTS,
        **override,
    }
    for name, text in files.items():
        write(root / name, text)
    return root


def test_oneroster_11_class_as_course(tmp_path: Path) -> None:
    result = load(_folder(tmp_path / "or"))
    assert result.ok, result.problems
    d = result.desired
    assert result.inputs[0]["format"] == "oneroster"
    rows = {(r.user, r.role): r for r in d.itertuples()}
    s1 = rows[("sis_user_id:u-s1", "StudentEnrollment")]
    assert s1.course == "sis_course_id:CLS-1" and pd.isna(s1.section)
    assert s1.start_at == pd.Timestamp("2026-08-24T00:00:00Z") and s1.dates_managed
    assert s1.origin_file.endswith("or/enrollments.csv") and s1.origin_row == "2"
    assert rows[("sis_user_id:u-t2", "TeacherEnrollment")].status == "active"
    guardian = rows[("sis_user_id:u-p1", "ObserverEnrollment")]
    assert guardian.associated_user == "sis_user_id:u-s1" and guardian.course == "sis_course_id:CLS-1"
    assert guardian.origin_file.endswith("or/users.csv") and guardian.origin_row == "2"
    assert len(d) == 5


def test_class_as_section_with_mapped_ids_and_non_primary_tas(tmp_path: Path) -> None:
    settings = OneRosterSettings(
        class_maps_to="section",
        course_id_from="courses.courseCode",
        section_id_from="classes.classCode",
        user_id_from="identifier",
        user_id_kind="integration",
        non_primary_teacher_as_ta=True,
        manage_dates=False,
    )
    result = load(_folder(tmp_path / "or"), config=Config(oneroster=settings))
    assert result.ok, result.problems
    rows = {r.user: r for r in result.desired.itertuples()}
    s1 = rows["sis_integration_id:S0001"]
    assert (s1.course, s1.section) == ("sis_course_id:MATH101-F26", "sis_section_id:MATH101-F26-01")
    assert not s1.dates_managed and pd.isna(s1.start_at)
    assert rows["sis_integration_id:T1002"].role == "TaEnrollment"
    assert rows["sis_integration_id:T1001"].role == "TeacherEnrollment"
    assert rows["sis_integration_id:P0001"].associated_user == "sis_integration_id:S0001"


def test_oneroster_12_zip_with_roles_csv(tmp_path: Path) -> None:
    users12 = (
        "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
        "u-s1,,,true,s1,,A,B,,S0001,,,,,,,MS1,,,,,NU,\n"
        "u-g1,,,true,g1,,C,D,,G0001,,,,u-s1,,,MG1,,,,,NU,\n"
    )
    roles = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\nr1,,,u-s1,primary,student,,,NU,\nr2,,,u-g1,primary,guardian,,,NU,\n"
    enrollments = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\ne1,,,CLS-1,NU,u-s1,student,false,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.csv", MANIFEST_11.format(mode="bulk").replace("1.1", "1.2"))
        archive.writestr("classes.csv", CLASSES)
        archive.writestr("courses.csv", COURSES)
        archive.writestr("users.csv", users12)
        archive.writestr("roles.csv", roles)
        archive.writestr("enrollments.csv", enrollments)
    path = write(tmp_path / "export.zip", buffer.getvalue())
    result = load(path, config=Config(oneroster=OneRosterSettings(user_id_from="userMasterIdentifier")))
    assert result.ok, result.problems
    users = sorted(
        zip(
            result.desired["user"],
            result.desired["role"],
            result.desired["associated_user"].fillna(""),
            strict=True,
        )
    )
    assert users == [
        ("sis_user_id:MG1", "ObserverEnrollment", "sis_user_id:MS1"),
        ("sis_user_id:MS1", "StudentEnrollment", ""),
    ]
    assert result.problems == () and result.desired.iloc[0]["origin_file"].startswith(str(path) + "/")


def test_delta_marks_result_incomplete_and_maps_tobedeleted(tmp_path: Path) -> None:
    enrollments = (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        "e1,active,2026-10-01,CLS-1,NU,u-s2,student,false,,\n"
        "e2,tobedeleted,2026-10-01,CLS-1,NU,u-s1,student,false,,\n"
    )
    result = load(_folder(tmp_path / "d", mode="delta", **{"enrollments.csv": enrollments}))
    assert result.ok and not result.complete
    statuses = dict(zip(result.desired["user"], result.desired["status"], strict=True))
    assert statuses["sis_user_id:u-s2"] == "active" and statuses["sis_user_id:u-s1"] == "deleted"
    # the guardian follows the student's deletion
    assert statuses["sis_user_id:u-p1"] == "deleted"


def test_missing_mapping_column_is_reported(tmp_path: Path) -> None:
    settings = OneRosterSettings(course_id_from="classes.nope")
    result = load(_folder(tmp_path / "or"), config=Config(oneroster=settings))
    assert ("1", "nope", "missing_column") in codes(result)


def test_renamed_required_column(tmp_path: Path) -> None:
    bad = ENROLLMENTS.replace("userSourcedId", "userSourceId")
    result = load(_folder(tmp_path / "or", **{"enrollments.csv": bad}))
    (problem,) = result.errors
    assert (problem.row, problem.column, problem.code) == ("1", "userSourcedId", "missing_column")
    assert 'did you mean the column "userSourceId"' in problem.message


def test_guardian_enrolled_directly_observes_linked_students_in_that_class(tmp_path: Path) -> None:
    enrollments = ENROLLMENTS + "e5,,,CLS-1,NU,u-p1,parent,false,,\ne6,,,CLS-2,NU,u-p1,parent,false,,\n"
    result = load(_folder(tmp_path / "or", **{"enrollments.csv": enrollments}))
    observers = result.desired[result.desired["role"] == "ObserverEnrollment"]
    got = sorted(
        zip(
            observers["course"], observers["associated_user"].fillna(""), observers["origin_row"], strict=True
        )
    )
    # CLS-1: the direct enrollment (row 6) links to u-s1 and replaces the derived one;
    # CLS-2: u-s1 is not enrolled there, so the guardian observes nobody (a warning).
    assert got == [("sis_course_id:CLS-1", "sis_user_id:u-s1", "6"), ("sis_course_id:CLS-2", "", "7")]
    assert [(p.row, p.code) for p in result.problems] == [("7", "observer_without_observee")]


def test_a_lone_oneroster_csv_asks_for_the_folder(tmp_path: Path) -> None:
    result = load(write(tmp_path / "enrollments.csv", ENROLLMENTS))
    assert codes(result) == [(None, None, "unknown_format")]
    assert "folder or a zip" in result.errors[0].message
