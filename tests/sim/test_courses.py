"""GET /accounts/:id/courses (numeric pages), GET /courses/:id (facts §14.4), the string-ids
Accept header, and POST into concluded courses (facts §3.2 step 9, §7.5)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs, urlsplit

from tests.sim.conftest import Api


def test_root_account_lists_sub_account_courses_except_deleted(api: Api) -> None:
    courses = api.all_pages("/api/v1/accounts/1/courses", per_page=2)
    assert {c["id"] for c in courses} == {101, 102, 103, 104, 105}
    math = next(c for c in courses if c["id"] == 101)
    assert math == {
        **math,
        "name": "Calculus I",
        "course_code": "MATH101",
        "sis_course_id": "MATH101-F26",
        "integration_id": "int-c-101",
        "account_id": 2,
        "enrollment_term_id": 2,
        "workflow_state": "available",
    }


def test_numeric_links_have_prev_and_last(api: Api) -> None:
    response = api.get("/api/v1/accounts/1/courses", params={"per_page": 2, "page": 2})
    assert len(response.json()) == 2
    rels = [part.split("; rel=")[1].strip('"') for part in response.headers["Link"].split(",")]
    assert rels == ["current", "next", "prev", "first", "last"]
    last = parse_qs(urlsplit(response.links["last"]["url"]).query)
    assert last["page"] == ["3"] and last["per_page"] == ["2"]
    assert api.get("/api/v1/accounts/1/courses", params={"per_page": 2, "page": 9}).json() == []


def test_sub_account_term_and_state_filters(api: Api) -> None:
    assert {c["id"] for c in api.all_pages("/api/v1/accounts/sis_account_id:NU-ARTS/courses")} == {103, 104}
    spring = api.all_pages("/api/v1/accounts/1/courses", enrollment_term_id="sis_term_id:T2026SP")
    assert {c["id"] for c in spring} == {105}
    published = api.all_pages("/api/v1/accounts/1/courses", **{"state[]": ["available"]})
    assert {c["id"] for c in published} == {101, 102, 103}


def test_courses_need_an_admin(api: Api) -> None:
    response = api.as_(api.university.teacher_token).get("/api/v1/accounts/1/courses")
    assert response.status_code == 403
    assert api.get("/api/v1/accounts/99/courses").status_code == 404


def test_string_ids_on_request(api: Api) -> None:
    response = api.get(
        "/api/v1/courses/101/enrollments",
        params={"user_id": 10},
        headers={"Accept": "application/json+canvas-string-ids"},
    )
    (item,) = response.json()
    assert (item["id"], item["user_id"], item["course_id"], item["user"]["id"]) == ("1004", "10", "101", "10")
    assert item["associated_user_id"] is None and item["limit_privileges_to_course_section"] is False
    assert isinstance(api.get("/api/v1/courses/101/enrollments").json()[0]["id"], int)


FALL_TERM = {
    "id": 2,
    "name": "Fall 2026",
    "start_at": "2026-08-24T08:00:00Z",
    "end_at": "2026-12-19T23:59:59Z",
    "workflow_state": "active",
    "grading_period_group_id": None,
    "created_at": "2026-01-05T12:00:00Z",
    "sis_term_id": "T2026FA",
    "sis_import_id": None,
}


def test_show_course_with_its_term(api: Api) -> None:
    """courses_controller#show with include[]=term (facts §14.4; lib/api/v1/course_json.rb)."""
    response = api.get(
        "/api/v1/courses/sis_course_id:MATH101-F26", params={"include[]": ["term", "concluded"]}
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": 101,
        "name": "Calculus I",
        "course_code": "MATH101",
        "account_id": 2,
        "root_account_id": 1,
        "enrollment_term_id": 2,
        "workflow_state": "available",
        "start_at": None,
        "end_at": None,
        "restrict_enrollments_to_course_dates": False,
        "uuid": api.university.simulator.store.courses[101].uuid,
        "default_view": "modules",
        "is_public": False,
        "sis_course_id": "MATH101-F26",
        "integration_id": "int-c-101",
        "term": FALL_TERM,
        "concluded": False,
    }


def test_course_states_as_the_api_names_them(api: Api) -> None:
    """Course#api_state: created and claimed are "unpublished"."""
    states = {c: api.get(f"/api/v1/courses/{c}").json()["workflow_state"] for c in (101, 104, 105)}
    assert states == {101: "available", 104: "unpublished", 105: "completed"}
    concluded = api.get("/api/v1/courses/105", params={"include[]": "concluded"}).json()["concluded"]
    assert concluded is True


def test_deleted_courses_need_all_courses(api: Api) -> None:
    api.university.simulator.store.courses[103].workflow_state = "deleted"
    assert api.get("/api/v1/courses/103").status_code == 404
    found = api.get("/api/v1/courses/103", params={"include[]": "all_courses"})
    assert found.json()["workflow_state"] == "deleted"


def test_course_read_permission_and_sis_fields(api: Api) -> None:
    student = api.as_(api.university.active_student_token)
    body = student.get("/api/v1/courses/101", params={"include[]": "term"}).json()
    assert "sis_course_id" not in body and "sis_term_id" not in body["term"]  # no read_sis
    teacher = api.as_(api.university.teacher_token).get("/api/v1/courses/101", params={"include[]": "term"})
    # a teacher reads the course's SIS id, but the term's SIS fields are the root account's
    assert teacher.json()["sis_course_id"] == "MATH101-F26" and "sis_term_id" not in teacher.json()["term"]
    assert api.as_(api.university.student_token).get("/api/v1/courses/102").status_code == 403
    assert api.get("/api/v1/courses/999").status_code == 404


def test_account_course_list_includes_the_term(api: Api) -> None:
    courses = api.all_pages("/api/v1/accounts/1/courses", **{"include[]": "term"})
    math = next(c for c in courses if c["id"] == 101)
    assert math["term"] == FALL_TERM and math["restrict_enrollments_to_course_dates"] is False
    assert next(c for c in courses if c["id"] == 104)["workflow_state"] == "unpublished"


CONCLUDED = {"message": "Can't add an enrollment to a concluded course."}


def test_post_into_a_course_whose_term_ended(api: Api) -> None:
    """§7.5 soft-concluded: the term's end has passed (the course has no restricted dates)."""
    store = api.university.simulator.store
    store.terms[2] = dataclasses.replace(
        store.terms[2], end_at=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    )
    assert api.get("/api/v1/courses/101", params={"include[]": "concluded"}).json()["concluded"] is True
    response = api.enroll(101, user_id=26, enrollment_state="active")
    assert (response.status_code, response.json()) == (400, CONCLUDED)


def test_post_into_a_course_past_its_restricted_end(api: Api) -> None:
    """§7.5: with restrict_enrollments_to_course_dates the course's own end decides; without
    it the course end date is ignored and the (running) term decides."""
    course = api.university.simulator.store.courses[102]
    course.end_at = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    assert api.enroll(102, user_id=26, enrollment_state="active").status_code == 200
    course.restrict_enrollments_to_course_dates = True
    response = api.enroll(102, user_id=27, enrollment_state="active")
    assert (response.status_code, response.json()) == (400, CONCLUDED)
    course.end_at = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    course.restrict_enrollments_to_course_dates = True
    store = api.university.simulator.store
    store.terms[2] = dataclasses.replace(
        store.terms[2], end_at=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    )
    # the restricted course end is in the future, so the ended term does not conclude it
    assert api.enroll(102, user_id=27, enrollment_state="active").status_code == 200
