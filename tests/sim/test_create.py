"""POST enrollments: validation order and bodies (facts §3.2), default states (§3.3),
upsert and revival (§3.4), self-enrollment (§3.6)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from reconcile.sim import Simulator
from tests.sim.conftest import Api

NO_USER = "Can't create an enrollment without a user. Include enrollment[user_id] to create an enrollment"


def test_create_answers_200_with_enrollment_without_user(api: Api) -> None:
    response = api.enroll(102, user_id=25, type="StudentEnrollment", enrollment_state="active")
    assert response.status_code == 200
    body = response.json()
    assert "user" not in body
    assert body["enrollment_state"] == "active"
    assert body["course_section_id"] == 202  # the default section
    assert body["role"] == "StudentEnrollment" and body["role_id"] == 3
    assert body["html_url"] == f"{api.university.url}/courses/102/users/25"


def test_no_enrollment_hash_is_no_parameters_given(api: Api) -> None:
    response = api.post("/api/v1/courses/101/enrollments", data={"user_id": 25})
    assert response.status_code == 400
    assert response.json() == {"message": "No parameters given"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user_id": 25, "type": "Bogus"}, "Invalid type"),
        ({"user_id": 25, "role_id": 1}, "Invalid role"),  # AccountAdmin: not a course role
        ({"user_id": 25, "role_id": 999}, "Invalid role"),
        ({"user_id": 25, "role": "Nobody"}, "Invalid role"),
        (
            {"user_id": 25, "role_id": 11},
            "Cannot create an enrollment with this role because it is inactive.",
        ),
        (
            {"user_id": 25, "role_id": 10, "type": "StudentEnrollment"},
            "The specified type must match the base type for the role",
        ),
        # inactive and mismatched: only the first is reported (if/elsif in the controller)
        (
            {"user_id": 25, "role_id": 11, "type": "TeacherEnrollment"},
            "Cannot create an enrollment with this role because it is inactive.",
        ),
        ({"type": "StudentEnrollment"}, NO_USER),
        ({"type": "Bogus"}, f"Invalid type, {NO_USER}"),
    ],
)
def test_pre_validation_messages_are_joined(api: Api, fields: dict[str, object], message: str) -> None:
    response = api.enroll(101, **fields)
    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_root_account_without_sis_ids(api: Api) -> None:
    response = api.post(
        "/api/v1/courses/101/enrollments",
        data={"root_account": "NU", "enrollment[type]": "StudentEnrollment"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "Can't create an enrollment without a sis_user_id or integration_id when root_account is provided"
    }


def test_custom_role_by_id_and_by_name_infers_the_type(api: Api) -> None:
    by_id = api.enroll(101, user_id=9, role_id=10).json()
    assert (by_id["type"], by_id["role"], by_id["role_id"]) == ("TaEnrollment", "Grader", 10)
    by_name = api.enroll(102, user_id=7, role="Grader").json()
    assert (by_name["type"], by_name["role_id"]) == ("TaEnrollment", 10)


def test_permission_checked_after_validation(api: Api) -> None:
    student = api.as_(api.university.student_token)
    assert student.enroll(101, type="Bogus").json() == {"message": f"Invalid type, {NO_USER}"}
    response = student.enroll(101, user_id=25)
    assert response.status_code == 403
    assert response.json() == {
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}],
    }


def test_teacher_may_enroll_students_in_own_course_only(api: Api) -> None:
    teacher = api.as_(api.university.teacher_token)
    assert teacher.enroll(101, user_id=25, enrollment_state="active").status_code == 200
    assert teacher.enroll(102, user_id=25).status_code == 403


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": 999},
        {"user_id": 40},  # pre-registered, no login: cannot be enrolled
        {"user_id": 41},  # deleted user
        {"user_id": "sis_user_id:NOPE"},
        {"user_id": 25, "course_section_id": 999},
        {"user_id": 25, "course_section_id": 202},  # a section of another course
    ],
)
def test_missing_user_or_section_is_404(api: Api, fields: dict[str, object]) -> None:
    response = api.enroll(101, **fields)
    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "The specified resource does not exist."}]}


def test_concluded_course_refuses_newcomers_but_takes_known_users_into_an_open_section(api: Api) -> None:
    """§3.2 step 9 / §7.5: the exception needs a section that is not concluded, and
    CourseSection#concluded? falls back to the course unless the section has restricted
    dates with an end (canvas-lms spec "allows enrollments to be added to an active section
    of a concluded course if the user is already enrolled" restricts the section for this)."""
    concluded = {"message": "Can't add an enrollment to a concluded course."}
    response = api.enroll(105, user_id=25)
    assert (response.status_code, response.json()) == (400, concluded)
    assert api.enroll(105, user_id=13).status_code == 400  # known user but no section
    unrestricted = api.enroll(105, user_id=13, course_section_id=206, enrollment_state="active")
    assert (unrestricted.status_code, unrestricted.json()) == (400, concluded)
    section = api.university.simulator.store.sections[206]
    section.restrict_enrollments_to_section_dates = True
    section.end_at = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    ok = api.enroll(105, user_id=13, course_section_id=206, enrollment_state="active")
    assert ok.status_code == 200 and ok.json()["id"] == 1404
    assert api.enroll(105, user_id=25, course_section_id=206).json() == concluded  # not known there
    section.end_at = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)  # the section ended too
    assert api.enroll(105, user_id=13, course_section_id=206).json() == concluded


@pytest.mark.parametrize(
    ("course", "fields", "state"),
    [
        (101, {"user_id": 25}, "invited"),
        (104, {"user_id": 25}, "creation_pending"),
        (104, {"user_id": 25, "type": "TeacherEnrollment"}, "invited"),
        (104, {"user_id": 25, "enrollment_state": "active"}, "active"),
        (101, {"user_id": 25, "type": "ObserverEnrollment"}, "active"),
        (101, {"user_id": 25, "enrollment_state": "inactive"}, "inactive"),
    ],
)
def test_default_states_of_new_enrollments(
    api: Api, course: int, fields: dict[str, object], state: str
) -> None:
    response = api.enroll(course, **fields)
    assert response.status_code == 200
    assert response.json()["enrollment_state"] == state


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"enrollment_state": "invited"}, "creation_pending"),
        ({"enrollment_state": "invited", "type": "ObserverEnrollment"}, "creation_pending"),
        ({"enrollment_state": "invited", "type": "TaEnrollment"}, "invited"),
        ({"enrollment_state": "creation_pending", "type": "TeacherEnrollment"}, "invited"),
        ({"enrollment_state": "creation_pending"}, "creation_pending"),
    ],
)
def test_an_explicit_state_follows_the_type_rules_in_an_unpublished_course(
    api: Api, fields: dict[str, object], state: str
) -> None:
    """course.rb#enroll_user applies its type rules after taking the requested state (facts
    §3.3): an explicit invited student or observer in an unpublished course is stored
    creation_pending; an explicit creation_pending teacher is invited."""
    response = api.enroll(104, user_id=26, **fields)
    assert response.status_code == 200
    assert response.json()["enrollment_state"] == state
    assert api.row(response.json()["id"])["workflow_state"] == state


def test_a_revival_into_an_unpublished_course_is_creation_pending(api: Api) -> None:
    api.delete("/api/v1/courses/104/enrollments/1302", params={"task": "delete"})
    revived = api.enroll(104, user_id=15, course_section_id=205, enrollment_state="invited").json()
    assert (revived["id"], revived["enrollment_state"]) == (1302, "creation_pending")


def test_enrolling_a_teacher_claims_an_unpublished_course(api: Api) -> None:
    """created -> claimed (facts §3.3): both show as "unpublished" in course JSON
    (Course#api_state), so the account list's raw state[] filter tells them apart."""

    def state() -> str:
        for raw in ("created", "claimed"):
            courses = api.all_pages("/api/v1/accounts/1/courses", per_page=100, **{"state[]": raw})
            if any(c["id"] == 104 for c in courses):
                assert {c["workflow_state"] for c in courses} == {"unpublished"}
                return raw
        raise AssertionError("course 104 is neither created nor claimed")

    assert state() == "created"
    api.enroll(104, user_id=25, type="StudentEnrollment")
    assert state() == "created"
    api.enroll(104, user_id=6, type="TeacherEnrollment")
    assert state() == "claimed"


def test_post_is_an_upsert_on_the_unique_key(api: Api) -> None:
    first = api.enroll(102, user_id=25, enrollment_state="active").json()
    assert first["id"] == 1104  # the seeded row in the default section
    again = api.enroll(102, user_id=25, enrollment_state="active").json()
    assert again["id"] == first["id"]
    other_section = api.enroll(102, user_id=25, enrollment_state="active", course_section_id=203).json()
    assert other_section["id"] != first["id"]
    other_role = api.enroll(102, user_id=25, role_id=10).json()
    assert other_role["id"] not in (first["id"], other_section["id"])
    rows = [r for r in api.university.simulator.enrollments() if r["user_id"] == 25 and r["course_id"] == 102]
    assert sorted(r["id"] for r in rows) == sorted({first["id"], other_section["id"], other_role["id"]})


@pytest.mark.parametrize(
    ("enrollment_id", "user_id", "state_sent", "state_after"),
    [
        (1015, 21, "active", "active"),  # completed -> revived
        (1016, 22, "active", "active"),  # deleted -> revived
        (1017, 23, None, "invited"),  # rejected -> default state
        (1013, 19, None, "invited"),  # inactive re-POSTed without a state becomes invited
        (1014, 20, "invited", "invited"),  # invited stays invited
        (1004, 10, "inactive", "active"),  # active (by date): state untouched
        (1004, 10, "invited", "active"),
        (1012, 18, "inactive", "active"),  # active within its own dates: untouched
    ],
)
def test_revival_and_active_rows(
    api: Api, enrollment_id: int, user_id: int, state_sent: str | None, state_after: str
) -> None:
    fields: dict[str, object] = {"user_id": user_id}
    if state_sent:
        fields["enrollment_state"] = state_sent
    body = api.enroll(101, **fields).json()
    assert body["id"] == enrollment_id
    assert body["enrollment_state"] == state_after


def test_revival_from_deleted_clears_the_sis_batch(api: Api) -> None:
    assert api.row(1016)["sis_import_id"] == 42
    api.enroll(101, user_id=22, enrollment_state="active")
    assert api.row(1016)["sis_import_id"] is None
    assert api.row(1016)["workflow_state"] == "active"


def test_dates_limit_flag_and_observee_are_overwritten_even_on_active_rows(api: Api) -> None:
    body = api.enroll(
        101,
        user_id=18,
        enrollment_state="active",
        start_at="2026-09-15T00:00:00Z",
        end_at="2026-12-01T00:00:00Z",
        limit_privileges_to_course_section="true",
    ).json()
    assert body["id"] == 1012
    assert (body["start_at"], body["end_at"]) == ("2026-09-15T00:00:00Z", "2026-12-01T00:00:00Z")
    assert body["limit_privileges_to_course_section"] is True
    cleared = api.enroll(101, user_id=18, enrollment_state="active").json()
    assert (cleared["start_at"], cleared["end_at"]) == (None, None)
    assert cleared["limit_privileges_to_course_section"] is False


def test_active_row_pending_by_date_is_not_active_for_the_upsert(api: Api) -> None:
    future = {"start_at": "2027-01-10T00:00:00Z", "end_at": "2027-05-10T00:00:00Z"}
    first = api.enroll(102, user_id=26, enrollment_state="active", course_section_id=203, **future).json()
    assert first["enrollment_state"] == "active"
    again = api.enroll(102, user_id=26, course_section_id=203, **future).json()
    assert again["id"] == first["id"]
    assert again["enrollment_state"] == "invited"


def test_updated_at_moves_only_when_something_changed(api: Api) -> None:
    # The first re-POST clears the SIS pseudonym link (facts §3.4 step 4), a real change.
    api.enroll(101, user_id=10, enrollment_state="active")
    api.university.simulator.store.enrollments[1004].updated_at = None
    before = api.row(1004)["updated_at"]
    api.enroll(101, user_id=10, enrollment_state="active")
    assert api.row(1004)["updated_at"] == before
    api.enroll(101, user_id=10, enrollment_state="active", limit_privileges_to_course_section="true")
    assert api.row(1004)["updated_at"] != before


@pytest.mark.parametrize(
    ("fields", "attribute", "message"),
    [
        (
            {"user_id": 25, "limit_privileges_to_course_section": "maybe"},
            "limit_privileges_to_course_section",
            "is not included in the list",
        ),
        (
            {"user_id": 25, "associated_user_id": 10},
            "associated_user_id",
            "only ObserverEnrollments may have an associated_user_id",
        ),
        (
            {"user_id": 38, "type": "ObserverEnrollment", "associated_user_id": 38},
            "associated_user_id",
            "Cannot observe yourself",
        ),
    ],
)
def test_model_errors_have_the_active_model_shape(
    api: Api, fields: dict[str, object], attribute: str, message: str
) -> None:
    response = api.enroll(101, **fields)
    assert response.status_code == 400
    errors = response.json()["errors"][attribute]
    assert errors[0]["attribute"] == attribute
    assert errors[0]["message"] == message


def test_observer_cannot_observe_someone_observing_them(api: Api) -> None:
    response = api.enroll(101, user_id=10, type="ObserverEnrollment", associated_user_id=38)
    assert response.status_code == 400
    assert (
        response.json()["errors"]["associated_user_id"][0]["message"]
        == "Cannot observe observer observing self"
    )


def test_observer_without_associated_user_is_valid(api: Api) -> None:
    body = api.enroll(102, user_id=38, type="ObserverEnrollment").json()
    assert body["type"] == "ObserverEnrollment" and body["associated_user_id"] is None


def test_observer_links_are_part_of_the_unique_key(api: Api) -> None:
    a = api.enroll(102, user_id=38, type="ObserverEnrollment", associated_user_id=10).json()
    b = api.enroll(102, user_id=38, type="ObserverEnrollment", associated_user_id=24).json()
    assert a["id"] != b["id"]
    assert (a["associated_user_id"], b["associated_user_id"]) == (10, 24)


def test_section_route_wins_over_the_section_parameter(api: Api) -> None:
    response = api.post(
        "/api/v1/sections/sis_section_id:BIO110-F26-B/enrollments",
        data={"enrollment[user_id]": "sis_user_id:S0016", "enrollment[course_section_id]": 202},
    )
    assert response.status_code == 200
    assert response.json()["course_section_id"] == 203


def test_json_body_works_like_a_form(api: Api) -> None:
    response = api.post(
        "/api/v1/courses/sis_course_id:BIO110-F26/enrollments",
        json={"enrollment": {"user_id": "sis_login_id:PALVES@northfield.edu", "enrollment_state": "active",
                             "course_section_id": "sis_section_id:BIO110-F26-B", "notify": False}},
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["user_id"], body["course_section_id"], body["enrollment_state"]) == (25, 203, "active")


class TestSelfEnrollment:
    def test_join_code_makes_an_active_student(self, api: Api) -> None:
        me = api.as_(api.university.teacher_token)  # Grace Hopper teaches MATH101; she joins as a student
        response = me.enroll(101, user_id="self", self_enrollment_code="JOINMATH")
        assert response.status_code == 200
        body = response.json()
        assert (body["user_id"], body["type"], body["enrollment_state"]) == (2, "StudentEnrollment", "active")
        assert api.row(body["id"])["self_enrolled"] is True

    def test_invited_student_joining_by_code_becomes_active_in_place(self, api: Api) -> None:
        me = api.as_(api.university.student_token)
        body = me.enroll(101, user_id="self", self_enrollment_code="JOINMATH").json()
        assert (body["id"], body["enrollment_state"]) == (1014, "active")

    @pytest.mark.parametrize(
        ("course", "fields", "message"),
        [
            (
                101,
                {"user_id": "self", "self_enrollment_code": "WRONG"},
                "enrollment[self_enrollment_code] is invalid",
            ),
            (
                101,
                {"user_id": 20, "self_enrollment_code": "JOINMATH"},
                "enrollment[user_id] must be 'self' when self-enrolling",
            ),
        ],
    )
    def test_errors(self, api: Api, course: int, fields: dict[str, object], message: str) -> None:
        response = api.as_(api.university.student_token).enroll(course, **fields)
        assert response.status_code == 400
        assert response.json() == {"message": message}

    def test_code_of_a_closed_course_fails_as_a_user_error(self, api: Api) -> None:
        api.university.simulator.store.courses[101].workflow_state = "completed"
        response = api.as_(api.university.student_token).enroll(
            101, user_id="self", self_enrollment_code="JOINMATH"
        )
        assert response.status_code == 400
        assert response.json()["user"]["self_enrollment_code"][0]["type"] == "closed"


def test_temporary_enrollment_of_a_registered_user_defaults_to_active(api: Api) -> None:
    body = api.enroll(
        102,
        user_id=6,
        type="TeacherEnrollment",
        temporary_enrollment_source_user_id=3,
        temporary_enrollment_pairing_id=7,
    ).json()
    assert body["enrollment_state"] == "active"
    assert (body["temporary_enrollment_source_user_id"], body["temporary_enrollment_pairing_id"]) == (3, 7)
    assert api.get("/api/v1/users/3/temporary_enrollment_status").json()["is_provider"] is True


def test_creation_pending_user_already_in_the_course_can_be_enrolled() -> None:
    seed = {
        "accounts": [{"id": 1}],
        "courses": [{"id": 5}, {"id": 6}],
        "users": [
            {"id": 1, "sis_user_id": "admin"},
            {"id": 2, "name": "No Login", "workflow_state": "creation_pending"},
        ],
        "enrollments": [{"id": 1, "user_id": 2, "course_id": 5, "workflow_state": "invited"}],
        "tokens": [{"token": "t", "user_id": 1, "admin": True}],
    }
    simulator = Simulator.from_seed(seed)
    with simulator.serve() as url:
        headers = {"Authorization": "Bearer t"}
        data = {"enrollment[user_id]": "2", "enrollment[type]": "TeacherEnrollment"}
        assert (
            requests.post(
                f"{url}/api/v1/courses/6/enrollments", data=data, headers=headers, timeout=5
            ).status_code
            == 404
        )
        assert (
            requests.post(
                f"{url}/api/v1/courses/5/enrollments", data=data, headers=headers, timeout=5
            ).status_code
            == 200
        )
