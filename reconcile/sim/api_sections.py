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
"""

from __future__ import annotations

from reconcile.sim import errors
from reconcile.sim.auth import may_read_course
from reconcile.sim.context import Request, Response
from reconcile.sim.model import Section, collation_key
from reconcile.sim.pagination import LinkBase, numeric_links, numeric_page, per_page
from reconcile.sim.params import as_list, is_blank
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
