"""The Courses API: ``GET /api/v1/courses/:id`` (canvas-lms ``courses_controller.rb#show``;
JSON from ``lib/api/v1/course_json.rb`` and ``lib/api/v1/enrollment_term.rb``; facts §14.4).

- The course is found by any id form of facts §9 among courses that are not deleted, unless
  ``include[]=all_courses`` (then deleted ones too); 404 otherwise. It needs course
  ``:read``: an account admin, or a user enrolled there (not deleted, rejected or still
  creation_pending).
- Fields: ``id, name, course_code, account_id, root_account_id, enrollment_term_id,
  workflow_state, start_at, end_at, restrict_enrollments_to_course_dates, uuid,
  default_view, is_public``; ``sis_course_id`` and ``integration_id`` with read_sis.
  ``workflow_state`` is ``Course#api_state``: ``unpublished`` (created or claimed),
  ``available``, ``completed`` or ``deleted``.
- ``include[]=term`` adds ``term``: ``id, name, start_at, end_at, workflow_state,
  grading_period_group_id, created_at`` (``sis_term_id`` and ``sis_import_id`` for account
  admins only: the term's rights are the root account's). ``include[]=concluded`` adds
  ``concluded``: completed, or soft-concluded by the course's restricted end date or else
  the term's end (facts §7.5).
- ``GET /api/v1/courses/:course_id/permissions?permissions[]=...`` (``courses_controller.rb
  #permissions``: ``@context.rights_status``): ``{name: true|false}`` for each name asked, all
  the modelled ones when none is asked; a name the simulator does not model is false.
  Needs course ``:read``. Modelled: the role permissions of :mod:`reconcile.sim.permissions`
  (read_roster, read_sis, view_user_logins, view_all_grades, manage_grades, read_reports,
  manage_students, manage_admin_users, manage_sections_edit, use_student_view), the
  account-level manage_sis, and the policy rights read, read_as_admin and manage.
"""

from __future__ import annotations

from reconcile.sim import errors, permissions
from reconcile.sim.auth import may_read_course
from reconcile.sim.context import Request, Response
from reconcile.sim.params import as_list, is_blank
from reconcile.sim.render import course_json


def show(req: Request) -> Response:
    store = req.store
    includes = frozenset(str(v) for v in as_list(req.params.get("include")))
    course = store.find_course(req.path_params["id"])
    if course is None or (course.workflow_state == "deleted" and "all_courses" not in includes):
        raise errors.not_found()
    if not may_read_course(store, req.caller, course):
        raise req.deny()
    return Response(course_json(store, course, req.rights(course), includes))


MODELLED = (*permissions.COURSE_PERMISSIONS, "manage_sis", "read", "read_as_admin", "manage")


def course_permissions(req: Request) -> Response:
    store = req.store
    course = req.course()
    if not may_read_course(store, req.caller, course):
        raise req.deny()
    asked = [str(v) for v in as_list(req.params.get("permissions")) if not is_blank(v)] or list(MODELLED)
    rights = req.rights(course)
    return Response({name: True if name == "read" else rights.granted(name) for name in asked})
