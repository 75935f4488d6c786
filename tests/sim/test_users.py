"""GET /api/v1/users/:user_id, as canvas-lms ``users_controller.rb#api_show`` serves it.

The id forms are facts §9; the permission is ``:api_show_user`` of ``app/models/user.rb``
(the user themself or an account admin); the body is ``lib/api/v1/user.rb#user_json`` in
the root account's context.
"""

from __future__ import annotations

import pytest
from canvasapi import Canvas
from canvasapi.exceptions import ResourceDoesNotExist

from tests.conftest import University
from tests.sim.conftest import Api

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}

AMARA = {
    "id": 10,
    "name": "Amara Okafor",
    "created_at": "2026-01-05T12:00:00Z",
    "sortable_name": "Okafor, Amara",
    "short_name": "Amara Okafor",
    "sis_user_id": "S0001",
    "integration_id": "int-u-10",
    "sis_import_id": None,
    "login_id": "aokafor@northfield.edu",
    "locale": None,
    "permissions": {
        "can_update_name": True,
        "can_update_avatar": False,
        "limit_parent_app_web_access": False,
    },
}


@pytest.mark.parametrize(
    "ref",
    [
        "10",
        "sis_user_id:S0001",
        "sis_login_id:AOKAFOR@Northfield.edu",  # login lookups ignore case (facts §9)
        "sis_integration_id:int-u-10",
        "hex:sis_user_id:5330303031",
        "uuid:",  # completed below with the seeded uuid
    ],
)
def test_admin_finds_a_user_by_every_id_form(api: Api, ref: str) -> None:
    if ref == "uuid:":
        ref = "uuid:" + api.university.simulator.store.users[10].uuid
    response = api.get(f"/api/v1/users/{ref}")
    assert response.status_code == 200, response.text
    assert response.json() == AMARA


def test_escaped_slash_in_an_sis_id(api: Api) -> None:
    response = api.get("/api/v1/users/sis_user_id:S0028%2FX")
    assert response.status_code == 200 and response.json()["id"] == 37


def test_self_is_the_caller_without_sis_fields(api: Api) -> None:
    """A student asking for themself passes ``api_show_user`` but is no admin, so
    ``user_json`` leaves out sis_user_id, integration_id and login_id."""
    response = api.as_(api.university.active_student_token).get("/api/v1/users/self")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 10 and body["effective_locale"] == "en"
    assert not {"sis_user_id", "integration_id", "login_id", "sis_import_id"} & set(body)


def test_unknown_user_is_canvas_404(api: Api) -> None:
    for ref in ("999", "sis_user_id:NOPE", "sis_login_id:nobody@northfield.edu", "bogus:1"):
        response = api.get(f"/api/v1/users/{ref}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_course_rights_do_not_grant_api_show_user(api: Api) -> None:
    """users_controller#api_show raises RecordNotFound without ``:api_show_user``, which
    course-level rights never grant (user.rb policy): a teacher gets 404 even for a student
    of their own course, exactly as for an unknown id."""
    teacher = api.as_(api.university.teacher_token)
    assert teacher.get("/api/v1/users/sis_user_id:S0001").json() == NOT_FOUND
    assert teacher.get("/api/v1/users/sis_user_id:S0001").status_code == 404
    assert teacher.get("/api/v1/users/self").json()["id"] == 2


def test_deleted_user_is_rendered_with_status_404(api: Api) -> None:
    """api_find(User, id) finds deleted users; api_show renders them with status 404."""
    response = api.get("/api/v1/users/sis_user_id:S0099")
    assert response.status_code == 404
    assert response.json()["id"] == 41 and response.json()["name"] == "Quinn Gone"


def test_include_uuid(api: Api) -> None:
    body = api.get("/api/v1/users/10", params={"include[]": "uuid"}).json()
    assert body["uuid"] == api.university.simulator.store.users[10].uuid


def test_canvasapi_get_user_by_id_and_sis_id(university: University) -> None:
    canvas = Canvas(university.url, university.token)
    assert canvas.get_user(10).sortable_name == "Okafor, Amara"
    assert canvas.get_user("S0001", "sis_user_id").id == 10
    with pytest.raises(ResourceDoesNotExist):
        canvas.get_user("NOPE", "sis_user_id")
