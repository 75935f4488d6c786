"""State changes on one enrollment: DELETE (conclude/delete/deactivate), accept, reject,
reactivate, and PUT last_attended (facts §5.1-§5.5)."""

from __future__ import annotations

from reconcile.sim import errors, linked
from reconcile.sim.context import Request, Response
from reconcile.sim.dates import is_active_by_date, is_inactive_by_date, is_invited_by_date
from reconcile.sim.model import Course, Enrollment, format_time, parse_time
from reconcile.sim.render import View, enrollment_json

SUCCESS = {"success": True}


def _enrollment_in_course(req: Request, course: Course) -> Enrollment:
    """``course.enrollments.find(id)``: deleted rows and other courses' rows are 404."""
    raw = req.path_params["id"]
    if not raw.isdigit() or len(raw) > 19:
        raise errors.not_found()
    e = req.store.enrollments.get(int(raw))
    if e is None or e.course_id != course.id or e.workflow_state == "deleted":
        raise errors.not_found()
    return e


def _render(req: Request, course: Course, e: Enrollment) -> Response:
    return Response(enrollment_json(req.store, e, View(req.base_url, req.caller, req.rights(course))))


def destroy(req: Request) -> Response:
    """DELETE with task conclude (default, also for unknown values), delete, inactivate/deactivate."""
    store = req.store
    course = req.course()
    e = _enrollment_in_course(req, course)
    task = req.params.get("task")
    rights = req.rights(course)
    # conclude: can_be_concluded_by; delete and inactivate: can_be_deleted_by (facts §14.5)
    removing = task in ("delete", "inactivate", "deactivate")
    if not (rights.may_delete(e, req.caller.user_id) if removing else rights.may_conclude(e)):
        raise req.deny()
    now = store.now()
    before = e.workflow_state
    if task == "delete":
        e.workflow_state = "deleted"
    elif task in ("inactivate", "deactivate"):
        e.workflow_state = "inactive"
    else:
        e.workflow_state = "completed"
        e.completed_at = now  # refreshed even when already completed, so the row is saved
    if e.workflow_state != before or e.workflow_state == "completed":
        e.updated_at = now
    _saved(req, e, before)  # every task saves the row: linked observers follow (facts §14.1)
    return _render(req, course, e)


def _saved(req: Request, e: Enrollment, before: str) -> None:
    """The after-save callbacks of a state change (the section never changes here)."""
    linked.student_saved(req.store, e, created=False, before_state=before, before_section=e.course_section_id)


def _own(req: Request) -> tuple[Course, Enrollment]:
    course = req.course()
    e = _enrollment_in_course(req, course)
    if e.user_id != req.caller.user_id:
        raise req.deny()
    return course, e


def accept(req: Request) -> Response:
    """The enrollment's own user accepts an invitation (facts §5.2)."""
    store = req.store
    _, e = _own(req)
    now = store.now()
    if is_active_by_date(store, e, now):
        return Response(SUCCESS)
    if is_inactive_by_date(store, e, now):
        raise errors.error("membership not activated")
    if e.workflow_state == "rejected":
        # Canvas un-rejects before the remaining checks and keeps that even when they fail.
        e.workflow_state = "invited"
        e.updated_at = now
        _saved(req, e, "rejected")
    if e.self_enrolled:
        raise errors.error("self enroll")
    if not is_invited_by_date(store, e, now):
        raise errors.error("no current invitation")
    before = e.workflow_state
    e.workflow_state = "active"
    e.updated_at = now
    _saved(req, e, before)
    return Response(SUCCESS)


def reject(req: Request) -> Response:
    """The enrollment's own user declines an invitation (facts §5.3)."""
    store = req.store
    _, e = _own(req)
    now = store.now()
    if e.workflow_state == "rejected":
        return Response(SUCCESS)
    if is_inactive_by_date(store, e, now):
        raise errors.error("membership not activated")
    if e.self_enrolled:
        raise errors.error("self enroll")
    if not is_invited_by_date(store, e, now):
        raise errors.error("no current invitation")
    before = e.workflow_state
    e.workflow_state = "rejected"
    e.updated_at = now
    _saved(req, e, before)
    return Response(SUCCESS)


def reactivate(req: Request) -> Response:
    """Only a raw ``inactive`` enrollment can be reactivated (facts §5.4)."""
    course = req.course()
    e = _enrollment_in_course(req, course)
    if not req.rights(course).may_delete(e, req.caller.user_id):
        raise req.deny()
    if e.workflow_state != "inactive":
        raise errors.error("enrollment not inactive")
    e.workflow_state = "active"
    e.updated_at = req.store.now()
    _saved(req, e, "inactive")
    return _render(req, course, e)


def last_attended(req: Request) -> Response:
    """Set last_attended_at on every row of (course, user) in the *raw* path ids (facts §5.5).

    Canvas matches the raw path params against the id columns, so ``sis_user_id:`` forms
    in the path update nothing yet still answer 200; the simulator keeps that quirk.
    """
    store = req.store
    course = req.course()
    rights = req.rights(course)
    if not (rights.view_all_grades or rights.manage_grades):
        raise req.deny()
    raw = req.params.get("date")
    if raw is None:
        raise errors.generic(500, "internal_server_error")
    when = parse_time(raw)
    if when is None:
        raise errors.message("Invalid date time input")
    course_raw, user_raw = req.path_params["course_id"], req.path_params["user_id"]
    if course_raw.isdigit() and user_raw.isdigit():
        user_id = int(user_raw)
        for key in store.user_index.get(user_id, []):
            e = store.enrollments[key[2]]
            if e.course_id == int(course_raw):
                # Canvas uses update_all here: callbacks and updated_at are skipped.
                e.last_attended_at = when
    return Response({"date": format_time(when)})
