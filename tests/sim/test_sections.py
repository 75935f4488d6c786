"""The Sections API (canvas-lms ``sections_controller.rb``, ``lib/api/v1/section.rb``):
list a course's sections, show one section, and (facts §14.2) cross-listing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from canvasapi import Canvas
from canvasapi.course import Course

from tests.conftest import University
from tests.sim.conftest import Api

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}

BIO_B = {
    "id": 203,
    "name": "BIO110 Lecture B",
    "course_id": 102,
    "nonxlist_course_id": None,
    "start_at": None,
    "end_at": None,
    "restrict_enrollments_to_section_dates": False,
    "sis_section_id": "BIO110-F26-B",
    "sis_course_id": "BIO110-F26",
    "integration_id": None,
    "sis_import_id": None,
}


def test_course_sections_sorted_by_name_with_numeric_links(api: Api) -> None:
    response = api.get("/api/v1/courses/sis_course_id:BIO110-F26/sections", params={"per_page": 1})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [202]
    rels = [part.split("; rel=")[1].strip('"') for part in response.headers["Link"].split(",")]
    assert rels == ["current", "next", "first", "last"]
    assert parse_qs(urlsplit(response.links["last"]["url"]).query)["page"] == ["2"]
    assert api.all_pages("/api/v1/courses/102/sections", per_page=1)[1] == BIO_B


def test_all_skips_paging(api: Api) -> None:
    response = api.get("/api/v1/courses/102/sections", params={"all": "true", "per_page": 1})
    assert [s["id"] for s in response.json()] == [202, 203] and "Link" not in response.headers


def test_total_students_counts_active_and_invited_students(api: Api) -> None:
    sections = api.get("/api/v1/courses/102/sections", params={"include[]": "total_students"}).json()
    # A: 1103-1107 and 1116 active, 1108 inactive; B: 1109-1113 active, 1115 invited, 1114 completed
    assert [(s["id"], s["total_students"]) for s in sections] == [(202, 6), (203, 6)]


def test_sis_fields_need_read_sis_and_includes_need_roster_rights(api: Api) -> None:
    """A student reads the course and its roster but has no read_sis: no SIS fields. An
    observer has no read_roster either, so ``include[]`` is dropped for them."""
    plain = {
        "id": 201,
        "name": "Calculus I",
        "course_id": 101,
        "nonxlist_course_id": None,
        "start_at": None,
        "end_at": None,
        "restrict_enrollments_to_section_dates": False,
    }
    params = {"include[]": "total_students"}
    student = api.as_(api.university.active_student_token)
    assert student.get("/api/v1/courses/101/sections", params=params).json() == [
        {**plain, "total_students": 10}
    ]
    observer = api.as_(api.university.observer_token)
    assert observer.get("/api/v1/courses/101/sections", params=params).json() == [plain]


def test_course_sections_need_course_read(api: Api) -> None:
    stranger = api.as_(api.university.student_token)  # enrolled in MATH101 only
    assert stranger.get("/api/v1/courses/102/sections").status_code == 403
    assert stranger.get("/api/v1/sections/203").status_code == 403
    assert api.get("/api/v1/courses/999/sections").json() == NOT_FOUND


def test_show_section_by_id_and_sis_id(api: Api) -> None:
    assert api.get("/api/v1/sections/203").json() == BIO_B
    assert api.get("/api/v1/sections/sis_section_id:BIO110-F26-B").json() == BIO_B
    assert api.get("/api/v1/courses/102/sections/203").json() == BIO_B
    # through another course the section is not found (active_course_sections of that course)
    assert api.get("/api/v1/courses/101/sections/203").json() == NOT_FOUND
    assert api.get("/api/v1/sections/999").json() == NOT_FOUND


def test_section_limited_ta_reads_other_sections(api: Api) -> None:
    """manage_students grants section :read (course_section.rb policy), limits or not."""
    ta = api.as_(api.university.ta_token)
    assert ta.get("/api/v1/sections/202").status_code == 200


def test_canvasapi_sections(university: University) -> None:
    canvas = Canvas(university.url, university.token)
    course = Course(canvas._Canvas__requester, {"id": 102})  # type: ignore[attr-defined]
    assert [s.name for s in course.get_sections()] == ["BIO110 Lecture A", "BIO110 Lecture B"]
    section = canvas.get_section(203)
    assert (section.id, section.course_id, section.sis_section_id) == (203, 102, "BIO110-F26-B")
