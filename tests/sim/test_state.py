"""DELETE tasks, accept, reject, reactivate, last_attended, temporary-enrollment status and
the account show route (facts §2, §5)."""

from __future__ import annotations

import pytest

from tests.sim.conftest import Api

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


@pytest.mark.parametrize(
    ("task", "state"),
    [(None, "completed"), ("conclude", "completed"), ("bogus", "completed"), ("delete", "deleted"),
     ("inactivate", "inactive"), ("deactivate", "inactive")],
)  # fmt: skip
def test_delete_tasks(api: Api, task: str | None, state: str) -> None:
    params = {"task": task} if task else {}
    response = api.delete("/api/v1/courses/101/enrollments/1005", params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 1005 and body["enrollment_state"] == state and "user" not in body
    assert api.row(1005)["workflow_state"] == state
    if state == "completed":
        assert api.row(1005)["completed_at"] is not None


def test_delete_on_deleted_row_or_other_course_is_404(api: Api) -> None:
    assert api.delete("/api/v1/courses/101/enrollments/1016", params={"task": "delete"}).json() == NOT_FOUND
    response = api.delete("/api/v1/courses/102/enrollments/1005")
    assert response.status_code == 404
    assert api.row(1005)["workflow_state"] == "active"


def test_conclude_again_and_inactivate_again_are_200(api: Api) -> None:
    assert api.delete("/api/v1/courses/101/enrollments/1015").status_code == 200
    assert (
        api.delete("/api/v1/courses/101/enrollments/1013", params={"task": "inactivate"}).status_code == 200
    )


def test_students_cannot_delete(api: Api) -> None:
    response = api.as_(api.university.active_student_token).delete("/api/v1/courses/101/enrollments/1004")
    assert response.status_code == 403


def test_ta_may_conclude_students_but_not_teachers(api: Api) -> None:
    ta = api.as_(api.university.ta_token)
    assert ta.delete("/api/v1/courses/102/enrollments/1109").status_code == 200
    assert ta.delete("/api/v1/courses/102/enrollments/1101").status_code == 403


def test_reactivate_only_from_inactive(api: Api) -> None:
    ok = api.put("/api/v1/courses/101/enrollments/1013/reactivate")
    assert ok.status_code == 200 and ok.json()["enrollment_state"] == "active"
    for enrollment_id in (1015, 1014, 1004):
        response = api.put(f"/api/v1/courses/101/enrollments/{enrollment_id}/reactivate")
        assert response.status_code == 400
        assert response.json() == {"error": "enrollment not inactive"}
    assert api.put("/api/v1/courses/101/enrollments/1016/reactivate").json() == NOT_FOUND


class TestAcceptReject:
    def test_own_invitation_can_be_accepted(self, api: Api) -> None:
        me = api.as_(api.university.student_token)
        response = me.post("/api/v1/courses/101/enrollments/1014/accept")
        assert response.status_code == 200 and response.json() == {"success": True}
        assert api.row(1014)["workflow_state"] == "active"
        assert me.post("/api/v1/courses/101/enrollments/1014/accept").json() == {"success": True}

    def test_own_invitation_can_be_rejected_twice(self, api: Api) -> None:
        me = api.as_(api.university.student_token)
        assert me.post("/api/v1/courses/101/enrollments/1014/reject").json() == {"success": True}
        assert api.row(1014)["workflow_state"] == "rejected"
        assert me.post("/api/v1/courses/101/enrollments/1014/reject").json() == {"success": True}
        # a rejected invitation can still be accepted: Canvas un-rejects first
        assert me.post("/api/v1/courses/101/enrollments/1014/accept").json() == {"success": True}
        assert api.row(1014)["workflow_state"] == "active"

    def test_deleted_rows_are_404(self, api: Api) -> None:
        api.university.simulator.store.enrollments[1014].workflow_state = "deleted"
        me = api.as_(api.university.student_token)
        for action in ("accept", "reject"):
            response = me.post(f"/api/v1/courses/101/enrollments/1014/{action}")
            assert response.status_code == 404
            assert response.json() == NOT_FOUND

    def test_only_the_enrollments_own_user(self, api: Api) -> None:
        assert api.post("/api/v1/courses/101/enrollments/1014/accept").status_code == 403
        assert (
            api.as_(api.university.active_student_token)
            .post("/api/v1/courses/101/enrollments/1014/reject")
            .status_code
            == 403
        )

    @pytest.mark.parametrize(
        ("action", "state", "error"),
        [
            ("accept", "inactive", "membership not activated"),
            ("reject", "inactive", "membership not activated"),
            ("accept", "completed", "no current invitation"),
            ("reject", "active", "no current invitation"),
        ],
    )
    def test_state_errors(self, api: Api, action: str, state: str, error: str) -> None:
        api.university.simulator.store.enrollments[1014].workflow_state = state
        response = api.as_(api.university.student_token).post(
            f"/api/v1/courses/101/enrollments/1014/{action}"
        )
        assert response.status_code == 400
        assert response.json() == {"error": error}

    def test_self_enrolled_rows_cannot_be_accepted(self, api: Api) -> None:
        row = api.university.simulator.store.enrollments[1014]
        row.self_enrolled = True
        response = api.as_(api.university.student_token).post("/api/v1/courses/101/enrollments/1014/accept")
        assert response.json() == {"error": "self enroll"}


class TestLastAttended:
    def test_sets_every_row_of_the_user_in_the_course(self, api: Api) -> None:
        response = api.put(
            "/api/v1/courses/101/users/10/last_attended", data={"date": "2026-10-14T10:30:00Z"}
        )
        assert response.status_code == 200
        assert response.json() == {"date": "2026-10-14T10:30:00Z"}
        assert api.row(1004)["last_attended_at"] == "2026-10-14T10:30:00Z"
        assert api.row(1004)["updated_at"] == "2026-01-05T12:00:00Z"  # update_all: not touched
        assert api.row(1116)["last_attended_at"] is None  # other course untouched

    def test_bad_date(self, api: Api) -> None:
        response = api.put("/api/v1/courses/101/users/10/last_attended", data={"date": "yesterday-ish"})
        assert response.status_code == 400
        assert response.json() == {"message": "Invalid date time input"}

    def test_sis_ids_in_the_path_match_nothing_yet_answer_200(self, api: Api) -> None:
        response = api.put(
            "/api/v1/courses/101/users/sis_user_id:S0001/last_attended", data={"date": "2026-10-14"}
        )
        assert response.status_code == 200
        assert api.row(1004)["last_attended_at"] is None

    def test_needs_grade_rights(self, api: Api) -> None:
        response = api.as_(api.university.active_student_token).put(
            "/api/v1/courses/101/users/10/last_attended", data={"date": "2026-10-14"}
        )
        assert response.status_code == 403


def test_temporary_enrollment_status(api: Api) -> None:
    provider = api.get("/api/v1/users/4/temporary_enrollment_status").json()
    assert provider == {"is_provider": True, "is_recipient": False, "can_provide": True}
    recipient = api.get("/api/v1/users/6/temporary_enrollment_status").json()
    assert recipient == {"is_provider": False, "is_recipient": True, "can_provide": True}
    nobody = api.get("/api/v1/users/40/temporary_enrollment_status").json()
    assert nobody == {"is_provider": False, "is_recipient": False, "can_provide": False}
    assert (
        api.as_(api.university.student_token).get("/api/v1/users/4/temporary_enrollment_status").status_code
        == 403
    )


class TestAccountShow:
    def test_root_account_shows_deleted_rows_without_user(self, api: Api) -> None:
        for account in ("1", "self", "sis_account_id:NU"):
            response = api.get(f"/api/v1/accounts/{account}/enrollments/1016")
            assert response.status_code == 200
            body = response.json()
            assert body["enrollment_state"] == "deleted" and "user" not in body

    def test_sub_account_is_404(self, api: Api) -> None:
        assert api.get("/api/v1/accounts/2/enrollments/1004").json() == NOT_FOUND

    def test_own_enrollment_only_for_users(self, api: Api) -> None:
        me = api.as_(api.university.student_token)
        assert me.get("/api/v1/accounts/1/enrollments/1014").status_code == 200
        assert me.get("/api/v1/accounts/1/enrollments/1004").status_code == 403


def test_inactivating_an_inactive_row_is_a_no_op_save(api: Api) -> None:
    before = api.row(1013)["updated_at"]
    assert (
        api.delete("/api/v1/courses/101/enrollments/1013", params={"task": "inactivate"}).status_code == 200
    )
    assert api.row(1013)["updated_at"] == before
    api.delete("/api/v1/courses/101/enrollments/1015")  # concluding again refreshes completed_at
    assert api.row(1015)["updated_at"] != "2026-01-05T12:00:00Z"
