"""GET /accounts/:id/courses (numeric pages) and the string-ids Accept header."""

from __future__ import annotations

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
