"""Cross-listed sections (facts §14.2; canvas-lms ``CourseSection#crosslist_to_course``,
``#move_to_course``, ``#uncrosslist`` and ``sections_controller.rb#crosslist/#uncrosslist``).

A cross-listed section takes all its enrollments to its new course and remembers its original
course in ``nonxlist_course_id``; lists, POSTs and the 404 of §14.2 follow where it is now.
"""

from __future__ import annotations

from typing import Any

import pytest
from canvasapi import Canvas

from reconcile.sim import SeedError, Simulator
from reconcile.sim.store import Store
from tests.conftest import University
from tests.sim.conftest import Api

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
BIO_B_ROWS = {1102, 1109, 1110, 1111, 1112, 1113, 1114, 1115}


def _ids(items: list[dict[str, Any]]) -> set[int]:
    return {e["id"] for e in items}


def _every_state(api: Api, path: str) -> list[dict[str, Any]]:
    states = ["active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"]
    return api.all_pages(path, **{"state[]": states, "per_page": 100})


def assert_indexes_consistent(store: Store) -> None:
    """Every per-course, per-section and per-user index says what the rows say."""
    for course_id in store.courses:
        expected = sorted(store.sort_key(e) for e in store.enrollments.values() if e.course_id == course_id)
        assert store.course_index.get(course_id, []) == expected, f"course {course_id}"
        assert {s for s in store.course_sections[course_id]} == {
            s.id for s in store.sections.values() if s.course_id == course_id
        }
    for section_id in store.sections:
        expected = sorted(
            store.sort_key(e) for e in store.enrollments.values() if e.course_section_id == section_id
        )
        assert store.section_index.get(section_id, []) == expected, f"section {section_id}"
    for user_id, courses in store.user_courses.items():
        assert courses == {e.course_id for e in store.enrollments.values() if e.user_id == user_id}
    for e in store.enrollments.values():
        assert store.sections[e.course_section_id].course_id == e.course_id


def test_crosslist_moves_the_section_and_every_enrollment(api: Api) -> None:
    before = {r["id"]: r for r in api.university.simulator.enrollments()}
    response = api.post("/api/v1/sections/sis_section_id:BIO110-F26-B/crosslist/sis_course_id:HIST200-F26")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["course_id"], body["nonxlist_course_id"]) == (203, 103, 102)
    assert body["sis_course_id"] == "HIST200-F26"  # the section's course now
    after = {r["id"]: r for r in api.university.simulator.enrollments()}
    for enrollment_id in BIO_B_ROWS:
        assert after[enrollment_id]["course_id"] == 103
        # update_all: no callbacks, the row's updated_at is untouched
        assert after[enrollment_id]["updated_at"] == before[enrollment_id]["updated_at"]
    assert_indexes_consistent(api.university.simulator.store)


def test_lists_follow_the_section(api: Api) -> None:
    """§14.2: the original course no longer lists them; the section list does, wherever it is."""
    api.post("/api/v1/sections/203/crosslist/103")
    assert not _ids(_every_state(api, "/api/v1/courses/102/enrollments")) & BIO_B_ROWS
    in_hist = _every_state(api, "/api/v1/courses/103/enrollments")
    assert _ids(in_hist) >= BIO_B_ROWS
    section_rows = _every_state(api, "/api/v1/sections/203/enrollments")
    assert _ids(section_rows) == BIO_B_ROWS
    assert {e["course_id"] for e in section_rows} == {103}
    assert [s["id"] for s in api.get("/api/v1/courses/102/sections").json()] == [202]
    assert {s["id"] for s in api.get("/api/v1/courses/103/sections").json()} == {203, 204}
    # through the original course the section is gone, through the new one it is found
    assert api.get("/api/v1/courses/102/sections/203").json() == NOT_FOUND
    assert api.get("/api/v1/courses/103/sections/203").json()["nonxlist_course_id"] == 102


def test_post_into_the_original_course_with_the_section_is_404(api: Api) -> None:
    """§14.2: the section is looked up among the course's active sections."""
    api.post("/api/v1/sections/203/crosslist/103")
    response = api.enroll(102, user_id=26, course_section_id=203, enrollment_state="active")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    by_sis = api.enroll(
        "sis_course_id:BIO110-F26", user_id=26, course_section_id="sis_section_id:BIO110-F26-B"
    )
    assert by_sis.status_code == 404


def test_post_to_the_section_lands_in_its_current_course(api: Api) -> None:
    api.post("/api/v1/sections/203/crosslist/103")
    response = api.post(
        "/api/v1/sections/203/enrollments",
        data={"enrollment[user_id]": "26", "enrollment[enrollment_state]": "active"},
    )
    assert response.status_code == 200
    assert (response.json()["course_id"], response.json()["course_section_id"]) == (103, 203)
    via_course = api.enroll(103, user_id=27, course_section_id=203, enrollment_state="active")
    assert via_course.json()["course_id"] == 103
    assert_indexes_consistent(api.university.simulator.store)


def test_uncrosslist_moves_everything_back(api: Api) -> None:
    api.post("/api/v1/sections/203/crosslist/103")
    response = api.delete("/api/v1/sections/203/crosslist")
    assert response.status_code == 200
    assert (response.json()["course_id"], response.json()["nonxlist_course_id"]) == (102, None)
    assert _ids(_every_state(api, "/api/v1/courses/102/enrollments")) >= BIO_B_ROWS
    assert not _ids(_every_state(api, "/api/v1/courses/103/enrollments")) & BIO_B_ROWS
    assert_indexes_consistent(api.university.simulator.store)
    again = api.delete("/api/v1/sections/203/crosslist")
    assert (again.status_code, again.json()) == (400, {"message": "section is not cross-listed"})


def test_crosslisting_again_keeps_the_first_original_course(api: Api) -> None:
    api.post("/api/v1/sections/203/crosslist/103")
    body = api.post("/api/v1/sections/203/crosslist/101").json()
    assert (body["course_id"], body["nonxlist_course_id"]) == (101, 102)
    same = api.post("/api/v1/sections/203/crosslist/101").json()  # already there: no change
    assert (same["course_id"], same["nonxlist_course_id"]) == (101, 102)
    assert api.delete("/api/v1/sections/203/crosslist").json()["course_id"] == 102
    assert_indexes_consistent(api.university.simulator.store)


def test_moving_a_default_section_away(api: Api) -> None:
    """move_to_course: the section is the target's default only if the target had no active
    section; the original course gets a new default section (named after it) on first use."""
    api.post("/api/v1/sections/201/crosslist/102")
    store = api.university.simulator.store
    assert store.sections[201].default_section is False
    assert api.get("/api/v1/courses/101/sections").json() == []
    response = api.enroll(101, user_id=26, enrollment_state="active")
    assert response.status_code == 200
    section = api.get(f"/api/v1/sections/{response.json()['course_section_id']}").json()
    assert (section["name"], section["course_id"]) == ("Calculus I", 101)
    assert store.sections[section["id"]].default_section is True
    assert_indexes_consistent(store)


def test_crosslist_errors(api: Api) -> None:
    assert api.post("/api/v1/sections/203/crosslist/999").json() == NOT_FOUND
    assert api.post("/api/v1/sections/999/crosslist/103").json() == NOT_FOUND
    api.university.simulator.store.courses[104].workflow_state = "deleted"
    assert api.post("/api/v1/sections/203/crosslist/104").json() == NOT_FOUND  # not_deleted courses only
    api.university.simulator.store.sections[203].workflow_state = "deleted"
    assert api.post("/api/v1/sections/203/crosslist/103").json() == NOT_FOUND  # require_section


def test_crosslist_needs_section_update_and_target_manage(api: Api) -> None:
    teacher = api.as_(api.university.teacher_token)  # teaches MATH101 only
    assert teacher.post("/api/v1/sections/203/crosslist/101").status_code == 403
    assert teacher.post("/api/v1/sections/201/crosslist/103").status_code == 403
    assert api.university.simulator.store.sections[201].course_id == 101
    # override_sis_stickiness=false answers the section unchanged, without a permission check
    kept = teacher.post("/api/v1/sections/201/crosslist/103", params={"override_sis_stickiness": "false"})
    assert (kept.status_code, kept.json()["course_id"]) == (200, 101)


def test_uncrosslist_restores_a_deleted_original_course(api: Api) -> None:
    api.post("/api/v1/sections/203/crosslist/103")
    api.university.simulator.store.courses[102].workflow_state = "deleted"
    assert api.delete("/api/v1/sections/203/crosslist").status_code == 200
    assert api.university.simulator.store.courses[102].workflow_state == "claimed"


def _seed(**section: Any) -> dict[str, Any]:
    return {
        "now": "2026-10-15T12:00:00Z",
        "accounts": [{"id": 1}],
        "courses": [{"id": 1, "sis_course_id": "ENG2"}, {"id": 2, "sis_course_id": "ENG2-COMBINED"}],
        "sections": [
            {"id": 20, "course_id": 2, "sis_section_id": "ENG2-COMBINED-01"},
            {"id": 10, "course_id": 1, "sis_section_id": "ENG2-01"},
            {"id": 11, "sis_section_id": "ENG2-02", **section},
        ],
        "users": [{"id": 1, "sis_user_id": "A"}, {"id": 5, "sis_user_id": "S5"}],
        "enrollments": [{"id": 1, "user_id": 5, "course_id": 2, "course_section_id": 11}],
        "tokens": [{"token": "t", "user_id": 1, "admin": True}],
    }


def test_seed_with_a_crosslisted_section() -> None:
    """A seed says where a section is now (course_id) and where it came from (nonxlist_course_id)."""
    simulator = Simulator.from_seed(_seed(course_id=2, nonxlist_course_id=1))
    store = simulator.store
    assert store.default_section_id(2) == 20 and store.default_section_id(1) == 10
    assert store.sections[11].default_section is False
    with simulator.serve() as url:
        api = Api(University(url=url, token="t", simulator=simulator), "t")
        assert [
            e["id"] for e in api.all_pages("/api/v1/courses/sis_course_id:ENG2-COMBINED/enrollments")
        ] == [1]
        assert api.all_pages("/api/v1/courses/1/enrollments") == []
        assert api.get("/api/v1/sections/sis_section_id:ENG2-02").json()["nonxlist_course_id"] == 1
        assert api.delete("/api/v1/sections/11/crosslist").json()["course_id"] == 1
        assert [e["course_id"] for e in api.all_pages("/api/v1/sections/11/enrollments")] == [1]
    assert_indexes_consistent(store)


def test_seed_rejects_enrollments_filed_under_the_original_course() -> None:
    seed = _seed(course_id=2, nonxlist_course_id=1)
    seed["enrollments"][0]["course_id"] = 1
    with pytest.raises(SeedError, match="cross-listed into course 2"):
        Simulator.from_seed(seed)
    with pytest.raises(SeedError, match="nonxlist_course_id 9 must be another existing course"):
        Simulator.from_seed(_seed(course_id=2, nonxlist_course_id=9))


def test_canvasapi_cross_list_and_back(university: University) -> None:
    canvas = Canvas(university.url, university.token)
    section = canvas.get_section(203)
    moved = section.cross_list_section(103)
    assert (moved.course_id, moved.nonxlist_course_id) == (103, 102)
    back = moved.decross_list_section()
    assert (back.course_id, back.nonxlist_course_id) == (102, None)
