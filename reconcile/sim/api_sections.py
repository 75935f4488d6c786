"""The Sections API (canvas-lms ``app/controllers/sections_controller.rb``, JSON from
``lib/api/v1/section.rb``).

- ``GET /courses/:course_id/sections``: the course's active sections *now*
  (``@context.active_course_sections``): sections cross-listed into it are listed, its own
  sections cross-listed away are not (facts §14.2). Ordered by name (collation), then id;
  numeric pages with prev/last links like every ``Api.paginate`` of a relation; ``all``
  skips paging. Needs course ``:read``; ``include[]`` is dropped for callers without
  read_roster/view_all_grades/manage_grades. ``include[]=total_students`` counts the
  section's active and invited students.
- ``GET /sections/:id``: the section wherever it is now; a deleted section, or one whose
  course is deleted, is 404 (``require_section``). ``GET /courses/:course_id/sections/:id``
  looks among that course's active sections only, so a section cross-listed away is 404
  there. Needs section ``:read``: section managers, student managers, or a user the
  section is visible to (``sections_visible_to``).
- ``POST /sections/:id/crosslist/:new_course_id`` (``CourseSection#crosslist_to_course``):
  the section keeps ``nonxlist_course_id`` = its original course (set once: cross-listing
  a cross-listed section again keeps the first original) and moves, with *all* its
  enrollments, to the new course (``move_to_course``: ``update_all(course_id:)``, so no
  callbacks and no updated_at). The new course is looked up among the root account's
  courses that are not deleted (404 otherwise); already there is a no-op. Needs section
  ``:update`` (manage_sections_edit in its current course) and ``:manage`` on the new
  course. ``override_sis_stickiness=false`` answers the section without moving it.
- ``DELETE /sections/:id/crosslist`` (``uncrosslist``): back to ``nonxlist_course_id``,
  which is cleared; a deleted original course is restored to ``claimed`` first. A section
  that is not cross-listed is 400 ``{"message": "section is not cross-listed"}``.
"""

from __future__ import annotations

from reconcile.sim import errors
from reconcile.sim.auth import may_read_course
from reconcile.sim.context import Request, Response
from reconcile.sim.model import Section, collation_key
from reconcile.sim.pagination import LinkBase, numeric_links, numeric_page, per_page
from reconcile.sim.params import as_list, is_blank, value_to_boolean
from reconcile.sim.render import section_json


def _includes(req: Request, course_id: int) -> frozenset[str]:
    rights = req.rights(req.store.courses[course_id])
    if not (rights.read_roster or rights.view_all_grades):
        return frozenset()
    return frozenset(str(v) for v in as_list(req.params.get("include")))


def list_in_course(req: Request) -> Response:
    store = req.store
    course = req.course()
    if not may_read_course(store, req.caller, course):
        raise req.deny()
    sections = store.active_sections(course.id)
    sections.sort(key=lambda s: (collation_key(s.name), s.id))
    includes = _includes(req, course.id)
    rights = req.rights(course)
    headers: dict[str, str] = {}
    if is_blank(req.params.get("all")):
        size = per_page(req.params)
        page = numeric_page(req.params)
        total = len(sections)
        sections = sections[(page - 1) * size : page * size]
        base = LinkBase(
            f"{req.base_url}/api/v1/courses/{req.raw_path_params['course_id']}/sections", req.query
        )
        headers["Link"] = numeric_links(base, size, page, total)
    body = [section_json(store, s, rights, includes) for s in sections]
    return Response(body, headers=headers, items=len(body))


def _may_read(req: Request, section: Section) -> bool:
    """Section ``:read`` (course_section.rb policy)."""
    store = req.store
    course = store.courses[section.course_id]
    rights = req.rights(course)
    if req.caller.admin or rights.manage_students or rights.manage_admin_users:
        return True
    if not may_read_course(store, req.caller, course):
        return False
    return rights.visible_sections is None or section.id in rights.visible_sections


def _show(req: Request, section: Section) -> Response:
    if not _may_read(req, section):
        raise req.deny()
    course = req.store.courses[section.course_id]
    return Response(section_json(req.store, section, req.rights(course), _includes(req, course.id)))


def show(req: Request) -> Response:
    """GET /sections/:id: deleted sections and sections of deleted courses are 404."""
    section = req.section("id")
    if (
        section.workflow_state == "deleted"
        or req.store.courses[section.course_id].workflow_state == "deleted"
    ):
        raise errors.not_found()
    return _show(req, section)


def show_in_course(req: Request) -> Response:
    """GET /courses/:course_id/sections/:id: only among the course's active sections now."""
    course = req.course()
    section = req.store.find_section(req.path_params["id"])
    if section is None or section.course_id != course.id or section.workflow_state != "active":
        raise errors.not_found()
    return _show(req, section)


def _movable(req: Request) -> Section:
    """``require_section`` for the section routes: deleted sections and sections of deleted
    courses are 404."""
    section = req.section("id")
    if (
        section.workflow_state == "deleted"
        or req.store.courses[section.course_id].workflow_state == "deleted"
    ):
        raise errors.not_found()
    return section


def _may_move(req: Request, section: Section, target_course_id: int) -> bool:
    store = req.store
    return (
        req.rights(store.courses[section.course_id]).manage_sections
        and req.rights(store.courses[target_course_id]).manage_course
    )


def _keep_sticky(req: Request) -> bool:
    raw = req.params.get("override_sis_stickiness")
    return raw is not None and value_to_boolean(raw) is False


def crosslist(req: Request) -> Response:
    store = req.store
    section = _movable(req)
    target = store.find_course(req.path_params["new_course_id"])
    if target is None or target.workflow_state == "deleted":
        raise errors.not_found()
    if not _keep_sticky(req):
        if not _may_move(req, section, target.id):
            raise req.deny()
        if section.course_id != target.id:
            if section.nonxlist_course_id is None:
                section.nonxlist_course_id = section.course_id
            store.move_section(section, target.id)
    course = store.courses[section.course_id]
    return Response(section_json(store, section, req.rights(course)))


def uncrosslist(req: Request) -> Response:
    store = req.store
    section = _movable(req)
    if section.nonxlist_course_id is None:
        raise errors.message("section is not cross-listed")
    original = store.courses[section.nonxlist_course_id]
    if not _may_move(req, section, original.id):
        raise req.deny()
    if not _keep_sticky(req):
        if original.workflow_state == "deleted":
            original.workflow_state = "claimed"
        section.nonxlist_course_id = None
        store.move_section(section, original.id)
    course = store.courses[section.course_id]
    return Response(section_json(store, section, req.rights(course)))
