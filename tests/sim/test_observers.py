"""Observer links and the observer enrollments Canvas keeps in step with them (facts §14.1).

Canvas sources: ``app/models/enrollment.rb`` (``create_linked_enrollments``,
``update_linked_enrollments``, ``create_linked_enrollment_for``, ``update_from``),
``app/models/user_observation_link.rb`` and ``app/controllers/user_observees_controller.rb``.
In the example university Ngozi Okafor (user 38, ``observer_token``) observes Amara (10) in
MATH101 by an enrollment only; these tests link her to Ben Carter (11), who is active in
MATH101 (row 1005) and HIST200 (1204) and completed in MATH210 (1403).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from canvasapi import Canvas

from reconcile.sim import SeedError, Simulator
from tests.conftest import UNIVERSITY_SEED, University
from tests.sim.conftest import Api
from tests.sim.test_crosslist import assert_indexes_consistent

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
NGOZI, BEN = 38, 11


def _observer_rows(api: Api, observer: int = NGOZI, student: int = BEN) -> dict[int, dict[str, Any]]:
    """The observer's rows associated with the student, by course."""
    rows = [
        r
        for r in api.university.simulator.enrollments()
        if r["user_id"] == observer and r["associated_user_id"] == student
    ]
    by_course = {r["course_id"]: r for r in rows}
    assert len(by_course) == len(rows), "one observer row per course here"
    return by_course


def _link(api: Api, observer: int = NGOZI, student: int = BEN) -> dict[str, Any]:
    response = api.put(f"/api/v1/users/{observer}/observees/{student}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _state(api: Api, enrollment_id: int) -> str:
    return str(api.row(enrollment_id)["workflow_state"])


class TestLinking:
    def test_link_creates_observer_rows_for_current_enrollments(self, api: Api) -> None:
        """user_observation_link.rb#create_linked_enrollments: every student enrollment that is
        not rejected, completed or deleted gets an observer row in its section."""
        body = _link(api)
        assert (body["id"], body["name"], body["observation_link_root_account_ids"]) == (
            BEN,
            "Ben Carter",
            [1],
        )
        rows = _observer_rows(api)
        assert set(rows) == {101, 103}  # not MATH210, where Ben's enrollment is completed
        math = rows[101]
        assert (math["course_section_id"], math["type"], math["role_id"]) == (201, "ObserverEnrollment", 7)
        assert (math["workflow_state"], math["limit_privileges_to_course_section"]) == ("active", False)
        assert rows[103]["course_section_id"] == 204
        assert_indexes_consistent(api.university.simulator.store)

    def test_invited_becomes_active_and_inactive_is_copied(self, api: Api) -> None:
        """update_from: an observer of an invited student is active; other states are copied
        (all_active_or_pending includes inactive)."""
        _link(api, student=20)  # Noor: invited to MATH101 (1014)
        assert _observer_rows(api, student=20)[101]["workflow_state"] == "active"
        _link(api, student=19)  # Jada: inactive in MATH101 (1013)
        assert _observer_rows(api, student=19)[101]["workflow_state"] == "inactive"

    def test_lists_of_observees_and_observers(self, api: Api) -> None:
        _link(api)
        _link(api, student=20)
        observees = api.all_pages(f"/api/v1/users/{NGOZI}/observees")
        assert [u["id"] for u in observees] == [BEN, 20]  # Carter before Haddad
        assert observees[0]["sis_user_id"] == "S0002"
        observers = api.all_pages(f"/api/v1/users/{BEN}/observers")
        assert [(u["id"], u["observation_link_root_account_ids"]) for u in observers] == [(NGOZI, [1])]
        assert api.get(f"/api/v1/users/{NGOZI}/observees/{BEN}").json()["id"] == BEN
        assert api.get(f"/api/v1/users/{BEN}/observers/{NGOZI}").json()["id"] == NGOZI
        assert api.get(f"/api/v1/users/{NGOZI}/observees/12").json() == NOT_FOUND
        # a parent lists their own observees; anyone else needs manage_user_observers
        mine = api.as_(api.university.observer_token).all_pages("/api/v1/users/self/observees")
        assert [u["id"] for u in mine] == [BEN, 20]
        assert "sis_user_id" not in mine[0]  # no account-level read_sis
        stranger = api.as_(api.university.active_student_token)
        assert stranger.get(f"/api/v1/users/{NGOZI}/observees").status_code == 403

    def test_an_existing_active_link_is_left_alone(self, api: Api) -> None:
        """update: create_observation_links skips a link that exists, so nothing is re-created."""
        _link(api)
        observer_row = _observer_rows(api)[101]
        api.delete(f"/api/v1/courses/101/enrollments/{observer_row['id']}", params={"task": "delete"})
        _link(api)
        assert _observer_rows(api)[101]["workflow_state"] == "deleted"

    def test_linking_needs_manage_user_observers_even_for_oneself(self, api: Api) -> None:
        parent = api.as_(api.university.observer_token)
        assert parent.put(f"/api/v1/users/self/observees/{BEN}").status_code == 403
        assert api.put(f"/api/v1/users/{NGOZI}/observees/999").json() == NOT_FOUND
        assert api.put(f"/api/v1/users/{NGOZI}/observees/41").json() == NOT_FOUND  # deleted user
        assert (
            api.put(f"/api/v1/users/{NGOZI}/observees/{BEN}", params={"root_account_id": 2}).status_code
            == 404
        )
        itself = api.put(f"/api/v1/users/{NGOZI}/observees/{NGOZI}")
        assert itself.status_code == 400
        assert itself.json()["errors"]["observer_id"][0]["message"] == "Cannot observe yourself"

    def test_removing_the_link_deletes_every_observer_row_of_the_pair(self, api: Api) -> None:
        """user_observation_link.rb#remove_linked_enrollments: all of the observer's rows for
        that student, in every course, including one added by hand."""
        _link(api)
        by_hand = api.enroll(
            102, user_id=NGOZI, type="ObserverEnrollment", associated_user_id=BEN, enrollment_state="active"
        )
        assert by_hand.status_code == 200
        parent = api.as_(api.university.observer_token)
        response = parent.delete(f"/api/v1/users/self/observees/{BEN}")
        assert response.status_code == 200 and response.json()["id"] == BEN
        assert {c: r["workflow_state"] for c, r in _observer_rows(api).items()} == {
            101: "deleted",
            102: "deleted",
            103: "deleted",
        }
        assert api.all_pages(f"/api/v1/users/{NGOZI}/observees") == []
        assert api.delete(f"/api/v1/users/{NGOZI}/observees/{BEN}").json() == NOT_FOUND
        # Amara's observer row (1018) is about another student and stays
        assert _state(api, 1018) == "active"

    def test_restoring_a_deleted_link_revives_the_rows(self, api: Api) -> None:
        """create_or_restore brings the link back and create_linked_enrollment_for revives
        the deleted observer rows (a deleted linked row is updated, not duplicated)."""
        _link(api)
        first = {c: r["id"] for c, r in _observer_rows(api).items()}
        api.delete(f"/api/v1/users/{NGOZI}/observees/{BEN}")
        _link(api)
        rows = _observer_rows(api)
        assert {c: r["id"] for c, r in rows.items()} == first
        assert {r["workflow_state"] for r in rows.values()} == {"active"}


class TestMirroring:
    """update_linked_enrollments after every save of the student's row."""

    @pytest.mark.parametrize(
        ("task", "state"), [("conclude", "completed"), ("inactivate", "inactive"), ("delete", "deleted")]
    )
    def test_delete_tasks_are_mirrored(self, api: Api, task: str, state: str) -> None:
        _link(api)
        assert api.delete("/api/v1/courses/101/enrollments/1005", params={"task": task}).status_code == 200
        assert _observer_rows(api)[101]["workflow_state"] == state
        assert _observer_rows(api)[103]["workflow_state"] == "active"  # other course untouched

    def test_reactivate_is_mirrored(self, api: Api) -> None:
        _link(api)
        api.delete("/api/v1/courses/101/enrollments/1005", params={"task": "inactivate"})
        assert api.put("/api/v1/courses/101/enrollments/1005/reactivate").status_code == 200
        assert _observer_rows(api)[101]["workflow_state"] == "active"

    def test_revival_by_post_restores_the_observer_row(self, api: Api) -> None:
        """A deleted student revived by POST: its linked row was deleted with it
        (workflow_state_before_last_save == deleted), so it is restored, same id."""
        _link(api)
        observer_id = _observer_rows(api)[101]["id"]
        api.delete("/api/v1/courses/101/enrollments/1005", params={"task": "delete"})
        revived = api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active")
        assert revived.json()["id"] == 1005
        row = _observer_rows(api)[101]
        assert (row["id"], row["workflow_state"]) == (observer_id, "active")

    def test_dates_are_copied_and_an_unchanged_post_mirrors_nothing(self, api: Api) -> None:
        _link(api)
        dates = {"start_at": "2026-09-01T00:00:00Z", "end_at": "2026-12-31T00:00:00Z"}
        api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active", **dates)
        row = _observer_rows(api)[101]
        assert (row["start_at"], row["end_at"]) == (dates["start_at"], dates["end_at"])
        api.university.simulator.store.enrollments[row["id"]].workflow_state = "completed"
        # the same POST again changes nothing on the student row, so nothing is saved
        api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active", **dates)
        assert _observer_rows(api)[101]["workflow_state"] == "completed"
        # a POST that changes the row (dates cleared) copies everything again
        api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active")
        row = _observer_rows(api)[101]
        assert (row["workflow_state"], row["start_at"], row["end_at"]) == ("active", None, None)

    def test_an_observer_row_deleted_by_hand_stays_deleted_until_the_student_is_restored(
        self, api: Api
    ) -> None:
        """active_linked_enrollment_for does not undelete a row deleted on its own; but a
        student coming back from completed runs create_linked_enrollment_for, which does."""
        _link(api)
        observer_id = _observer_rows(api)[101]["id"]
        api.delete(f"/api/v1/courses/101/enrollments/{observer_id}", params={"task": "delete"})
        api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active", start_at="2026-09-01",
                   end_at="2026-12-31")  # fmt: skip
        assert _state(api, observer_id) == "deleted"
        api.delete("/api/v1/courses/101/enrollments/1005")  # conclude
        assert _state(api, observer_id) == "deleted"
        api.enroll(101, user_id=BEN, course_section_id=201, enrollment_state="active")  # completed -> active
        assert _state(api, observer_id) == "active"

    def test_a_new_student_enrollment_gets_an_observer_row(self, api: Api) -> None:
        """after_create :create_linked_enrollments, in the student's section, invited -> active."""
        _link(api)
        response = api.enroll(102, user_id=BEN, course_section_id=203, enrollment_state="invited")
        assert response.status_code == 200
        row = _observer_rows(api)[102]
        assert (row["course_section_id"], row["workflow_state"]) == (203, "active")
        assert_indexes_consistent(api.university.simulator.store)

    def test_a_move_leaves_one_observer_row_in_the_new_section(self, api: Api) -> None:
        """Enroll in section B then conclude the row in A, as a planner's move does: the old
        observer row is concluded with it and exactly one live row is in the new section."""
        _link(api, student=24)  # Olivia: BIO110 section A (1103)
        new = api.enroll(102, user_id=24, course_section_id=203, enrollment_state="active").json()
        api.delete("/api/v1/courses/102/enrollments/1103")
        rows = [
            r
            for r in api.university.simulator.enrollments()
            if r["user_id"] == NGOZI and r["associated_user_id"] == 24
        ]
        live = [r for r in rows if r["workflow_state"] == "active"]
        assert [(r["course_section_id"]) for r in live] == [new["course_section_id"]]
        assert {r["course_section_id"]: r["workflow_state"] for r in rows} == {
            202: "completed",
            203: "active",
        }

    def test_bulk_enrollment_creates_observer_rows(self, api: Api) -> None:
        _link(api)
        response = api.post(
            "/api/v1/accounts/1/bulk_enrollment", data={"user_ids[]": [str(BEN)], "course_ids[]": ["102"]}
        )
        assert response.status_code == 200
        progress_url = response.json()["url"]
        for _ in range(100):
            if api.get(progress_url).json()["workflow_state"] == "completed":
                break
            time.sleep(0.02)
        row = _observer_rows(api)[102]
        assert (row["course_section_id"], row["workflow_state"]) == (202, "active")  # default section

    def test_accept_and_reject_are_mirrored(self, api: Api) -> None:
        _link(api, student=20)
        student = api.as_(api.university.student_token)
        assert student.post("/api/v1/courses/101/enrollments/1014/reject").status_code == 200
        assert _observer_rows(api, student=20)[101]["workflow_state"] == "rejected"
        assert student.post("/api/v1/courses/101/enrollments/1014/accept").status_code == 200
        assert _observer_rows(api, student=20)[101]["workflow_state"] == "active"

    def test_crosslisting_moves_observer_rows_with_the_section(self, api: Api) -> None:
        """move_to_course updates all_enrollments of the section, observer rows included."""
        _link(api, student=30)  # Uma: BIO110 section B (1109)
        api.post("/api/v1/sections/203/crosslist/103")
        row = _observer_rows(api, student=30)[103]
        assert (row["course_section_id"], row["workflow_state"]) == (203, "active")
        assert_indexes_consistent(api.university.simulator.store)

    def test_observers_of_other_types_are_not_touched(self, api: Api) -> None:
        """Enrollment#observers is empty unless the row is a StudentEnrollment."""
        _link(api, student=8)  # Lucía: TA in MATH101, designer in HIST200
        assert _observer_rows(api, student=8) == {}
        api.delete("/api/v1/courses/101/enrollments/1003")
        assert _observer_rows(api, student=8) == {}


def test_parent_with_a_link_lists_the_students_enrollments(api: Api) -> None:
    """read_as_parent (user.rb policy: an active observation link) lets a parent read the
    student's enrollment list, /users/:id/enrollments (facts §1.2)."""
    parent = api.as_(api.university.observer_token)
    assert parent.get(f"/api/v1/users/{BEN}/enrollments").status_code == 403
    _link(api)
    items = parent.all_pages(f"/api/v1/users/{BEN}/enrollments")
    assert {e["id"] for e in items} == {1005, 1204}


def _university_with(**extra: Any) -> dict[str, Any]:
    import yaml

    doc: dict[str, Any] = yaml.safe_load(UNIVERSITY_SEED.read_text(encoding="utf-8"))
    doc.update(extra)
    return doc


def test_seed_links_get_their_observer_rows_at_load() -> None:
    """Seeded links: each student row linking would cover gets an observer row (ids after the
    seed's, the student row's timestamps); observer rows the seed lists are kept as written."""
    simulator = Simulator.from_seed(
        _university_with(
            observer_links=[
                {"observer_id": NGOZI, "student_id": 10},
                {"observer_id": NGOZI, "student_id": 20, "workflow_state": "deleted"},
            ]
        )  # fmt: skip
    )
    rows = [r for r in simulator.enrollments() if r["user_id"] == NGOZI]
    by_course = {r["course_id"]: r for r in rows}
    assert by_course[101]["id"] == 1018  # the seeded row, untouched
    assert set(by_course) == {101, 102, 103}  # not MATH210 (completed); nothing for Noor (deleted link)
    student_row = next(r for r in simulator.enrollments() if r["id"] == 1116)
    made = by_course[102]
    assert made["id"] > 1404 and made["course_section_id"] == 202
    assert (made["created_at"], made["updated_at"], made["workflow_state"]) == (
        student_row["created_at"],
        student_row["updated_at"],
        "active",
    )
    again = Simulator.from_seed(_university_with(observer_links=[{"observer_id": NGOZI, "student_id": 10}]))
    assert [r for r in again.enrollments() if r["user_id"] == NGOZI] == rows
    assert_indexes_consistent(simulator.store)


def test_a_seeded_observer_row_is_kept_as_written_even_deleted() -> None:
    """An observer row deleted by hand after linking stays deleted: loading creates only the
    rows the seed does not list for the pair and section."""
    doc = _university_with(observer_links=[{"observer_id": NGOZI, "student_id": 10}])
    next(e for e in doc["enrollments"] if e["id"] == 1018)["workflow_state"] = "deleted"
    simulator = Simulator.from_seed(doc)
    by_course = {r["course_id"]: r for r in simulator.enrollments() if r["user_id"] == NGOZI}
    assert by_course[101]["workflow_state"] == "deleted"
    assert (by_course[102]["workflow_state"], by_course[103]["workflow_state"]) == ("active", "active")


def test_seed_link_problems() -> None:
    with pytest.raises(SeedError, match="cannot observe themself"):
        Simulator.from_seed(_university_with(observer_links=[{"observer_id": 10, "student_id": 10}]))
    with pytest.raises(SeedError, match="does not exist"):
        Simulator.from_seed(_university_with(observer_links=[{"observer_id": 999, "student_id": 10}]))
    with pytest.raises(SeedError, match="already linked"):
        Simulator.from_seed(_university_with(observer_links=[{"observer_id": NGOZI, "student_id": 10}] * 2))


def test_an_observer_who_cannot_be_enrolled_gets_no_rows() -> None:
    """create_linked_enrollment_for: no row unless observer.can_be_enrolled_in_course?."""
    simulator = Simulator.from_seed(_university_with(observer_links=[{"observer_id": 40, "student_id": 10}]))
    assert [r for r in simulator.enrollments() if r["user_id"] == 40] == []


def test_canvasapi_observees(university: University) -> None:
    canvas = Canvas(university.url, university.token)
    parent = canvas.get_user(NGOZI)
    assert parent.add_observee(BEN).id == BEN
    assert [u.id for u in parent.get_observees()] == [BEN]
    assert [u.id for u in canvas.get_user(BEN).get_observers()] == [NGOZI]
    assert parent.remove_observee(BEN).id == BEN
    assert list(parent.get_observees()) == []
