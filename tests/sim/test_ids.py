"""Canvas's id forms in paths and id-valued parameters (facts §9)."""

from __future__ import annotations

import pytest

from tests.sim.conftest import Api


@pytest.mark.parametrize(
    "ref",
    [
        "101",
        "sis_course_id:MATH101-F26",
        "sis_integration_id:int-c-101",
        "hex:sis_course_id:" + b"MATH101-F26".hex(),
        "sis_course_id%3AMATH101-F26",
    ],
)
def test_course_forms(api: Api, ref: str) -> None:
    response = api.get(f"/api/v1/courses/{ref}/enrollments", params={"per_page": 100})
    assert response.status_code == 200
    assert {e["course_id"] for e in response.json()} == {101}


def test_course_uuid_form(api: Api) -> None:
    uuid = api.university.simulator.store.courses[101].uuid
    assert api.get(f"/api/v1/courses/uuid:{uuid}/enrollments").status_code == 200


@pytest.mark.parametrize(
    "ref",
    ["sis_course_id:NOPE", "sis_nonsense:MATH101-F26", "12345678901234567890", "hex:sis_course_id:zz", "999"],
)
def test_unknown_forms_are_404(api: Api, ref: str) -> None:
    response = api.get(f"/api/v1/courses/{ref}/enrollments")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "The specified resource does not exist."}]}


@pytest.mark.parametrize(
    "ref",
    ["203", "sis_section_id:BIO110-F26-B"],
)
def test_section_forms(api: Api, ref: str) -> None:
    assert {e["course_section_id"] for e in api.all_pages(f"/api/v1/sections/{ref}/enrollments")} == {203}


@pytest.mark.parametrize(
    "ref",
    [
        "10",
        "sis_user_id:S0001",
        "sis_login_id:aokafor@northfield.edu",
        "sis_login_id:AOkafor@Northfield.EDU",  # login ids are case-insensitive
        "sis_integration_id:int-u-10",
        "hex:sis_user_id:" + b"S0001".hex(),
    ],
)
def test_user_forms_in_paths_and_parameters(api: Api, ref: str) -> None:
    assert {e["user_id"] for e in api.all_pages(f"/api/v1/users/{ref}/enrollments")} == {10}
    assert {e["user_id"] for e in api.all_pages("/api/v1/courses/101/enrollments", user_id=ref)} == {10}
    body = api.enroll(102, user_id=ref, enrollment_state="active", course_section_id=203).json()
    assert body["user_id"] == 10


def test_escaped_slash_stays_inside_the_segment(api: Api) -> None:
    response = api.get("/api/v1/users/sis_user_id:S0028%2FX/enrollments")
    assert response.status_code == 200
    assert {e["user_id"] for e in response.json()} == {37}
    link = response.headers["Link"]
    assert "/api/v1/users/sis_user_id:S0028%2FX/enrollments?" in link


def test_self_means_the_caller(api: Api) -> None:
    me = api.as_(api.university.active_student_token)
    assert {e["user_id"] for e in me.all_pages("/api/v1/users/self/enrollments")} == {10}
    assert {e["user_id"] for e in me.all_pages("/api/v1/courses/101/enrollments", user_id="self")} == {10}


@pytest.mark.parametrize("ref", ["1", "self", "sis_account_id:NU"])
def test_account_forms(api: Api, ref: str) -> None:
    assert api.get(f"/api/v1/accounts/{ref}/enrollments/1004").status_code == 200


def test_term_forms(api: Api) -> None:
    for ref in ("2", "sis_term_id:T2026FA", "current"):
        items = api.all_pages("/api/v1/users/10/enrollments", enrollment_term_id=ref)
        assert {e["course_id"] for e in items} == {101, 102, 103}, ref
