"""POST /courses/:id/enrollments and /sections/:id/enrollments (facts §3).

The validation order, error bodies, default states and the upsert/revival rules follow
``EnrollmentsApiController#create`` and ``Course#enroll_user`` step by step.
"""

from __future__ import annotations

from typing import Any

from reconcile.sim import errors, linked
from reconcile.sim.context import Request, Response
from reconcile.sim.dates import course_concluded, is_active_by_date, section_concluded
from reconcile.sim.model import (
    ADMIN_TYPES,
    BUILT_IN_ROLE_FOR_TYPE,
    ENROLLMENT_TYPES,
    WORKFLOW_STATES,
    Course,
    Enrollment,
    Role,
    Section,
    User,
    parse_time,
)
from reconcile.sim.params import is_blank, value_to_boolean
from reconcile.sim.render import View, enrollment_json
from reconcile.sim.store import Store

NOT_AN_OBSERVER = "only ObserverEnrollments may have an associated_user_id"


def create_in_course(req: Request) -> Response:
    return _create(req, req.course(), None)


def create_in_section(req: Request) -> Response:
    section = req.section()
    return _create(req, req.store.courses[section.course_id], section)


def _create(req: Request, course: Course, url_section: Section | None) -> Response:
    store = req.store
    params = req.params.get("enrollment")
    if not isinstance(params, dict) or not params:
        raise errors.message("No parameters given")
    if not is_blank(params.get("self_enrollment_code")):
        return _self_enroll(req, course, url_section, params)
    role, etype, problems = resolve_role(store, params.get("type"), params.get("role_id"), params.get("role"))
    if not is_blank(req.params.get("root_account")):
        if is_blank(params.get("sis_user_id")) and is_blank(params.get("integration_id")):
            problems.append(
                "Can't create an enrollment without a sis_user_id or integration_id when root_account is provided"
            )
    elif is_blank(params.get("user_id")):
        problems.append(
            "Can't create an enrollment without a user. Include enrollment[user_id] to create an enrollment"
        )
    if problems:
        raise errors.message(", ".join(problems))
    assert role is not None and etype is not None
    rights = req.rights(course)
    if not rights.may_create(etype):
        raise req.deny()
    section = url_section
    if section is not None and section.workflow_state != "active":
        raise errors.not_found()  # the route's section is looked up again among active ones
    if section is None and not is_blank(params.get("course_section_id")):
        found = store.find_section(str(params["course_section_id"]))
        if found is None or found.course_id != course.id or found.workflow_state != "active":
            raise errors.not_found()
        section = found
    user = store.find_user(str(params.get("user_id", "")), caller_id=req.caller.user_id)
    if user is None or not store.can_be_enrolled(user, course):
        raise errors.not_found()
    now = store.now()
    if course_concluded(store, course, now):
        has_row = course.id in store.user_courses.get(user.id, set())
        if section is None or not has_row or section_concluded(store, section, now):
            raise errors.message("Can't add an enrollment to a concluded course.")
    target = section or store.sections[store.default_section_id(course.id)]
    enrollment = enroll_user(store, course, target, user, role, etype, params, rights_section=section)
    view = View(req.base_url, req.caller, rights)
    return Response(enrollment_json(store, enrollment, view))


def resolve_role(
    store: Store, raw_type: Any, raw_role_id: Any, raw_role: Any
) -> tuple[Role | None, str | None, list[str]]:
    """Role and type from the request, with the messages of facts §3.2 step 3."""
    problems: list[str] = []
    etype = None if is_blank(raw_type) else str(raw_type)
    role: Role | None
    if not is_blank(raw_role_id):
        role = store.find_role(str(raw_role_id))
    elif not is_blank(raw_role):
        role = store.course_role_by_name(str(raw_role))
    else:
        etype = etype or "StudentEnrollment"
        role_id = BUILT_IN_ROLE_FOR_TYPE.get(etype) if etype in ENROLLMENT_TYPES else None
        role = store.roles.get(role_id) if role_id is not None else None
        if role is None or not role.is_course_role:
            problems.append("Invalid type")
            role = None
    if role is not None and role.is_course_role and role.workflow_state != "deleted":
        etype = etype or role.base_role_type
        # One or the other, never both: the controller checks them with if/elsif.
        if role.workflow_state == "inactive":
            problems.append("Cannot create an enrollment with this role because it is inactive.")
        elif etype != role.base_role_type:
            problems.append("The specified type must match the base type for the role")
    elif not problems:
        problems.append("Invalid role")
    return role, etype, problems


def default_state(
    store: Store, course: Course, user: User, etype: str, requested: str | None, *, temporary: bool = False
) -> str:
    """The state a new (or revived) enrollment gets (facts §3.3, ``course.rb#enroll_user``).

    The type rules apply to a requested state too: an explicit ``invited`` student or
    observer in an unpublished course is stored ``creation_pending``, an explicit
    ``creation_pending`` teacher, TA or designer ``invited``.
    """
    if requested:
        state = requested
    elif (etype == "ObserverEnrollment" or temporary) and user.workflow_state == "registered":
        state = "active"
    else:
        state = "invited" if course.workflow_state == "available" else "creation_pending"
    if etype in ADMIN_TYPES and state == "creation_pending":
        return "invited"
    if etype not in ADMIN_TYPES and state == "invited" and course.workflow_state != "available":
        return "creation_pending"
    return state


def enroll_user(
    store: Store,
    course: Course,
    section: Section,
    user: User,
    role: Role,
    etype: str,
    params: dict[str, Any],
    *,
    rights_section: Section | None = None,
) -> Enrollment:
    """``Course#enroll_user`` with the API's options: upsert on Canvas's unique key (facts §3.4).

    Raises ApiError(400) with model errors when the resulting record would be invalid.
    """
    requested = None if is_blank(params.get("enrollment_state")) else str(params["enrollment_state"])
    limit_raw = params.get("limit_privileges_to_course_section")
    limit = False if "limit_privileges_to_course_section" not in params else value_to_boolean(limit_raw)
    associated = _associated_user(store, params.get("associated_user_id"))
    temp_source = _associated_user(store, params.get("temporary_enrollment_source_user_id"))
    pairing_raw = str(params.get("temporary_enrollment_pairing_id") or "").strip()
    pairing = int(pairing_raw) if pairing_raw.isdigit() else None
    self_enrolled = value_to_boolean(params["self_enrolled"]) if "self_enrolled" in params else None
    start_at, end_at = parse_time(params.get("start_at")), parse_time(params.get("end_at"))
    state = default_state(store, course, user, etype, requested, temporary=temp_source is not None)
    if etype == "StudentViewEnrollment":
        state = "active"
    _validate(store, course, section, user, role, etype, state, limit, associated)
    now = store.now()
    key = (user.id, etype, role.id, section.id, associated)
    existing_id = store.by_key.get(key)
    if existing_id is not None:
        e = store.enrollments[existing_id]
        before = _snapshot(e)
        if not is_active_by_date(store, e, now):
            if e.workflow_state == "deleted":
                e.sis_import_id = None
            if e.workflow_state in ("completed", "rejected", "deleted") or e.workflow_state != state:
                e.course_section_id = section.id
                e.workflow_state = state
                e.completed_at = None
    else:
        e = Enrollment(
            id=store.new_id("enrollment"),
            user_id=user.id,
            course_id=course.id,
            course_section_id=section.id,
            type=etype,
            role_id=role.id,
            workflow_state=state,
            root_account_id=store.root_account_id,
            created_at=now,
            updated_at=now,
        )
        before = None
    e.limit_privileges_to_course_section = bool(limit)
    e.associated_user_id = associated
    e.temporary_enrollment_source_user_id = temp_source
    e.temporary_enrollment_pairing_id = pairing
    e.role_id = role.id
    e.self_enrolled = self_enrolled
    e.start_at, e.end_at = start_at, end_at
    e.sis_pseudonym_id = None
    if before is None:
        store.insert_enrollment(e)
        linked.student_saved(store, e, created=True)
    elif _snapshot(e) != before:
        e.updated_at = now
        # the row is saved only when something changed, and only a save runs the callbacks
        linked.student_saved(store, e, created=False, before_state=before[0], before_section=before[1])
    if etype in ADMIN_TYPES and course.workflow_state == "created":
        course.workflow_state = "claimed"
    return e


def _snapshot(e: Enrollment) -> tuple[Any, ...]:
    return (
        e.workflow_state,
        e.course_section_id,
        e.limit_privileges_to_course_section,
        e.associated_user_id,
        e.temporary_enrollment_source_user_id,
        e.temporary_enrollment_pairing_id,
        e.role_id,
        e.self_enrolled,
        e.start_at,
        e.end_at,
        e.sis_pseudonym_id,
        e.sis_import_id,
    )


def _associated_user(store: Store, raw: Any) -> int | None:
    if is_blank(raw):
        return None
    user = store.find_user(str(raw))
    if user is None:
        raise errors.not_found()
    return user.id


def _validate(
    store: Store,
    course: Course,
    section: Section,
    user: User,
    role: Role,
    etype: str,
    state: str,
    limit: bool | None,
    associated: int | None,
) -> None:
    """Enrollment model validations (facts §3.2 step 10)."""
    problems: dict[str, list[tuple[str, str]]] = {}

    def add(attribute: str, kind: str, text: str | None = None) -> None:
        problems.setdefault(attribute, []).append((kind, text or kind))

    if limit is None:
        add("limit_privileges_to_course_section", "inclusion", "is not included in the list")
    if state not in WORKFLOW_STATES:
        add("workflow_state", "inclusion", "is not included in the list")
    if associated is not None:
        if etype != "ObserverEnrollment":
            add("associated_user_id", NOT_AN_OBSERVER)
        elif associated == user.id:
            add("associated_user_id", "Cannot observe yourself")
        elif any(
            store.enrollments[k[2]].associated_user_id == user.id
            and store.enrollments[k[2]].course_id == course.id
            and store.enrollments[k[2]].workflow_state != "deleted"
            for k in store.user_index.get(associated, [])
        ):
            add("associated_user_id", "Cannot observe observer observing self")
    if role.base_role_type != etype and not (etype == "StudentViewEnrollment" and role.id == 3):
        add("role_id", "is not valid for the enrollment type")
    if course.workflow_state == "deleted" and state != "deleted":
        add("course_id", "is not a valid course")
    if section.workflow_state != "active":
        add("course_section_id", "is not a valid section")
    if problems:
        raise errors.model_errors(problems)


def _self_enroll(
    req: Request, course: Course, url_section: Section | None, params: dict[str, Any]
) -> Response:
    """Self-enrollment with a join code (facts §3.6): the result is an active student."""
    store = req.store
    problems = []
    if (
        course.self_enrollment_code is None
        or params.get("self_enrollment_code") != course.self_enrollment_code
    ):
        problems.append("enrollment[self_enrollment_code] is invalid")
    if params.get("user_id") != "self":
        problems.append("enrollment[user_id] must be 'self' when self-enrolling")
    if problems:
        raise errors.message(", ".join(problems))
    now = store.now()
    if course.workflow_state != "available" or course_concluded(store, course, now):
        # The code is right but the course takes no students: saving the user fails.
        # ("course is not open for self-enrollment" is only for Blueprint courses.)
        closed = [{"attribute": "self_enrollment_code", "type": "closed", "message": "closed"}]
        raise errors.ApiError(400, {"user": {"self_enrollment_code": closed}})
    section = url_section or store.sections[store.default_section_id(course.id)]
    if section_concluded(store, section, now):
        open_sections = [s for s in store.active_sections(course.id) if not section_concluded(store, s, now)]
        if not open_sections:
            raise errors.message("Course has no open sections")
        section = open_sections[0]
    user = store.users[req.caller.user_id]
    role = store.roles[BUILT_IN_ROLE_FOR_TYPE["StudentEnrollment"]]
    fields = {"enrollment_state": "active", "self_enrolled": True}
    enrollment = enroll_user(store, course, section, user, role, "StudentEnrollment", fields)
    enrollment.workflow_state = "active"
    view = View(req.base_url, req.caller, req.rights(course))
    return Response(enrollment_json(store, enrollment, view))
