"""Permissions per action and token (facts §14.5, §5.1, §5.5; canvas-lms
``app/models/enrollment.rb#can_be_concluded_by`` / ``#can_be_deleted_by``, role defaults
of ``app/models/role_override.rb``, ``courses_controller.rb#permissions``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from reconcile.sim import SeedError, Simulator
from tests.conftest import UNIVERSITY_SEED, University
from tests.sim.conftest import Api

ACTIVITY = {"last_activity_at", "last_attended_at", "total_activity_time"}


def _observer_in_bio_b(api: Api) -> int:
    """An observer row in BIO110 section B, where the TA token is limited."""
    response = api.post(
        "/api/v1/sections/203/enrollments",
        data={
            "enrollment[user_id]": "38",
            "enrollment[type]": "ObserverEnrollment",
            "enrollment[associated_user_id]": "30",
            "enrollment[enrollment_state]": "active",
        },
    )
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


class TestConclude:
    def test_manage_students_is_not_enough_to_conclude_an_observer(self, api: Api) -> None:
        """can_be_concluded_by: only a StudentEnrollment with manage_students; every other
        type needs manage_admin_users, which TAs lack."""
        observer_row = _observer_in_bio_b(api)
        ta = api.as_(api.university.ta_token)
        assert ta.delete(f"/api/v1/courses/102/enrollments/{observer_row}").status_code == 403
        assert ta.delete("/api/v1/courses/102/enrollments/1109").status_code == 200  # a student

    def test_but_a_ta_may_delete_or_inactivate_an_observer(self, api: Api) -> None:
        """can_be_deleted_by: StudentEnrollment or ObserverEnrollment with manage_students."""
        observer_row = _observer_in_bio_b(api)
        ta = api.as_(api.university.ta_token)
        inactivated = ta.delete(
            f"/api/v1/courses/102/enrollments/{observer_row}", params={"task": "inactivate"}
        )
        assert (inactivated.status_code, inactivated.json()["enrollment_state"]) == (200, "inactive")
        assert ta.put(f"/api/v1/courses/102/enrollments/{observer_row}/reactivate").status_code == 200
        deleted = ta.delete(f"/api/v1/courses/102/enrollments/{observer_row}", params={"task": "delete"})
        assert deleted.status_code == 200

    def test_teachers_conclude_observers_and_tas(self, api: Api) -> None:
        teacher = api.as_(api.university.teacher_token)
        assert teacher.delete("/api/v1/courses/101/enrollments/1018").status_code == 200  # observer
        assert teacher.delete("/api/v1/courses/101/enrollments/1002").status_code == 200  # TA


class TestOwnEnrollment:
    def test_a_teacher_cannot_remove_their_own_enrollment(self, api: Api) -> None:
        """can_be_deleted_by refuses one's own row without account-level rights; concluding
        has no such rule."""
        teacher = api.as_(api.university.teacher_token)
        for task in ("delete", "inactivate"):
            response = teacher.delete("/api/v1/courses/101/enrollments/1001", params={"task": task})
            assert response.status_code == 403
        assert teacher.delete("/api/v1/courses/101/enrollments/1001").status_code == 200  # conclude

    def test_an_account_admin_may_remove_their_own_enrollment(self, api: Api) -> None:
        mine = api.enroll(101, user_id=1, type="TeacherEnrollment", enrollment_state="active").json()["id"]
        assert (
            api.delete(f"/api/v1/courses/101/enrollments/{mine}", params={"task": "delete"}).status_code
            == 200
        )


def _university(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(UNIVERSITY_SEED.read_text(encoding="utf-8"))
    doc["tokens"].append(
        {"token": "grader-token", "user_id": 8}
    )  # Lucía: Grader in MATH101, designer in HIST200
    doc.update(extra)
    return doc


@pytest.fixture
def graders() -> Iterator[Api]:
    """The university with the Grader role (10, TA base) stripped of read_reports."""
    overrides = [{"role_id": 10, "permission": "read_reports", "enabled": False}]
    simulator = Simulator.from_seed(_university(role_overrides=overrides))
    with simulator.serve() as url:
        client = Api(University(url=url, token="demo-admin-token", simulator=simulator), "grader-token")
        yield client
        client.session.close()


class TestActivityFields:
    def test_absent_without_read_reports_except_on_ones_own_row(self, graders: Api) -> None:
        """enrollment_json: last_activity_at, last_attended_at and total_activity_time only for
        one's own row or with read_reports on the course; absent, not null, otherwise."""
        rows = graders.all_pages("/api/v1/courses/101/enrollments")
        mine = next(e for e in rows if e["id"] == 1003)
        assert set(mine) >= ACTIVITY
        others = [e for e in rows if e["id"] != 1003]
        assert others and all(not ACTIVITY & set(e) for e in others)

    def test_present_with_read_reports(self, api: Api) -> None:
        teacher = api.as_(api.university.teacher_token)
        row = next(e for e in teacher.all_pages("/api/v1/courses/101/enrollments") if e["id"] == 1008)
        assert row["last_attended_at"] == "2026-10-13T09:00:00Z" and row["total_activity_time"] == 0
        student = api.as_(api.university.active_student_token)
        listed = {e["id"]: e for e in student.all_pages("/api/v1/courses/101/enrollments")}
        assert set(listed[1004]) >= ACTIVITY and not ACTIVITY & set(listed[1008])


class TestLastAttended:
    def test_needs_view_all_grades_or_manage_grades(self, graders: Api) -> None:
        """facts §5.5: a TA-based role has view_all_grades; a designer has neither."""
        date = {"date": "2026-10-14T09:00:00Z"}
        assert graders.put("/api/v1/courses/101/users/14/last_attended", data=date).status_code == 200
        assert graders.put("/api/v1/courses/103/users/14/last_attended", data=date).status_code == 403

    def test_manage_grades_alone_is_enough(self) -> None:
        overrides = [
            {"role_id": 10, "permission": "view_all_grades", "enabled": False},
            {"role_id": 10, "permission": "manage_grades", "enabled": True},
        ]
        simulator = Simulator.from_seed(_university(role_overrides=overrides))
        with simulator.serve() as url:
            api = Api(University(url=url, token="t", simulator=simulator), "grader-token")
            date = {"date": "2026-10-14T09:00:00Z"}
            assert api.put("/api/v1/courses/101/users/14/last_attended", data=date).status_code == 200
            overrides[1]["enabled"] = False
        simulator = Simulator.from_seed(_university(role_overrides=overrides))
        with simulator.serve() as url:
            api = Api(University(url=url, token="t", simulator=simulator), "grader-token")
            assert api.put("/api/v1/courses/101/users/14/last_attended", data=date).status_code == 403


class TestRoleDefaults:
    def test_designers_manage_students(self, graders: Api) -> None:
        """role_override.rb: manage_students is on for designers by default."""
        assert graders.delete("/api/v1/courses/103/enrollments/1204").status_code == 200
        assert graders.delete("/api/v1/courses/103/enrollments/1201").status_code == 403  # a teacher

    def test_read_sis_is_the_teachers_not_the_tas(self, api: Api) -> None:
        """read_sis is on for teachers (and admins), available but off for TAs."""
        ta_rows = api.as_(api.university.ta_token).all_pages("/api/v1/courses/102/enrollments")
        assert ta_rows and all("sis_user_id" not in e and "sis_user_id" not in e["user"] for e in ta_rows)
        teacher_rows = api.as_(api.university.teacher_token).all_pages("/api/v1/courses/101/enrollments")
        assert all("sis_user_id" in e for e in teacher_rows)

    def test_admin_overrides_apply_to_every_admin(self) -> None:
        simulator = Simulator.from_seed(
            _university(role_overrides=[{"role_id": 1, "permission": "read_sis", "enabled": False}])
        )
        with simulator.serve() as url:
            api = Api(University(url=url, token="demo-admin-token", simulator=simulator), "demo-admin-token")
            rows = api.all_pages("/api/v1/courses/101/enrollments")
            assert all("sis_user_id" not in e for e in rows)


class TestPermissionsEndpoint:
    NAMES = ["manage_students", "manage_admin_users", "read_reports", "view_all_grades", "read_sis"]

    def _ask(self, api: Api, course: int = 101, names: list[str] | None = None) -> dict[str, bool]:
        response = api.get(
            f"/api/v1/courses/{course}/permissions", params={"permissions[]": names or self.NAMES}
        )
        assert response.status_code == 200, response.text
        body: dict[str, bool] = response.json()
        return body

    def test_teacher_ta_student_admin(self, api: Api) -> None:
        assert self._ask(api.as_(api.university.teacher_token)) == dict.fromkeys(self.NAMES, True)
        assert self._ask(api.as_(api.university.ta_token), 102) == {
            "manage_students": True,
            "manage_admin_users": False,
            "read_reports": True,
            "view_all_grades": True,
            "read_sis": False,
        }
        assert self._ask(api.as_(api.university.active_student_token)) == dict.fromkeys(self.NAMES, False)
        assert self._ask(api) == dict.fromkeys(self.NAMES, True)

    def test_role_overrides_show(self, graders: Api) -> None:
        assert self._ask(graders, 101, ["read_reports", "view_all_grades", "manage_grades"]) == {
            "read_reports": False,
            "view_all_grades": True,
            "manage_grades": True,
        }

    def test_unknown_names_are_false_and_no_names_means_all(self, api: Api) -> None:
        assert self._ask(api, 101, ["become_user_of_the_year"]) == {"become_user_of_the_year": False}
        everything = api.as_(api.university.teacher_token).get("/api/v1/courses/101/permissions").json()
        assert everything["read"] is True and everything["manage_admin_users"] is True
        assert everything["manage_sis"] is False and len(everything) >= 10

    def test_needs_course_read(self, api: Api) -> None:
        stranger = api.as_(api.university.student_token)  # MATH101 only
        assert stranger.get("/api/v1/courses/102/permissions").status_code == 403
        assert api.get("/api/v1/courses/999/permissions").status_code == 404


def test_locked_and_unknown_overrides_are_refused() -> None:
    with pytest.raises(SeedError, match="read_reports cannot be set for a StudentEnrollment role"):
        Simulator.from_seed(
            _university(role_overrides=[{"role_id": 3, "permission": "read_reports", "enabled": True}])
        )
    with pytest.raises(SeedError, match="role 99 does not exist"):
        Simulator.from_seed(
            _university(role_overrides=[{"role_id": 99, "permission": "read_sis", "enabled": True}])
        )
    with pytest.raises(SeedError, match="permission"):
        Simulator.from_seed(
            _university(role_overrides=[{"role_id": 4, "permission": "fly", "enabled": True}])
        )
