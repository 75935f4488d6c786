"""JSON for Canvas objects, as ``enrollment_json`` and ``user_json`` render them (facts §6).

Which fields appear depends on the caller's rights (SIS fields, logins, activity) and on
``include[]``; lists embed ``user``, single-object answers do not.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from typing import Any

from reconcile.sim import pseudonyms
from reconcile.sim.auth import Caller, CourseRights
from reconcile.sim.dates import course_concluded
from reconcile.sim.model import Course, Enrollment, Progress, Section, Term, User, format_time
from reconcile.sim.store import Store


@dataclass(frozen=True, slots=True)
class View:
    """Everything rendering depends on besides the row itself.

    ``sis_context`` is the list a user object appears in (``("course", id)``,
    ``("section", id)`` or None for the root account): it decides which of a user's
    pseudonyms the object shows (:func:`reconcile.sim.pseudonyms.for_user`).
    """

    base_url: str
    caller: Caller
    rights: CourseRights
    includes: frozenset[str] = frozenset()
    with_user: bool = False
    sis_context: pseudonyms.Context = None


def user_json(store: Store, user: User, view: View) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "created_at": format_time(user.created_at),
        "sortable_name": user.sortable_name,
        "short_name": user.short_name,
    }
    rights = view.rights
    if rights.read_sis or rights.view_user_logins:
        login = pseudonyms.for_user(store, user.id, view.sis_context)
        if rights.read_sis:
            body["sis_user_id"] = login.sis_user_id if login else None
            body["integration_id"] = login.integration_id if login else None
        if rights.manage_sis:
            body["sis_import_id"] = None
        if rights.view_user_logins and login is not None and login.unique_id is not None:
            body["login_id"] = login.unique_id
    elif rights.manage_sis:
        body["sis_import_id"] = None
    if "avatar_url" in view.includes:
        body["avatar_url"] = f"{view.base_url}/images/messages/avatar-50.png"
    if "uuid" in view.includes:
        body["uuid"] = user.uuid
    return body


def enrollment_json(store: Store, e: Enrollment, view: View) -> dict[str, Any]:
    """One enrollment as Canvas renders it for this caller."""
    course = store.courses[e.course_id]
    section = store.sections[e.course_section_id]
    role = store.roles[e.role_id]
    user = store.users[e.user_id]
    deleted_context = course.workflow_state == "deleted" or section.workflow_state == "deleted"
    body: dict[str, Any] = {
        "id": e.id,
        "user_id": e.user_id,
        "course_id": e.course_id,
        "type": e.type,
        "created_at": format_time(e.created_at),
        "updated_at": format_time(e.updated_at),
        "associated_user_id": e.associated_user_id,
        "start_at": format_time(e.start_at),
        "end_at": format_time(e.end_at),
        "course_section_id": e.course_section_id,
        "root_account_id": e.root_account_id,
        "limit_privileges_to_course_section": e.limit_privileges_to_course_section,
        "enrollment_state": "deleted" if deleted_context else e.workflow_state,
        "role": role.name,
        "role_id": e.role_id,
        "temporary_enrollment_source_user_id": e.temporary_enrollment_source_user_id,
        "temporary_enrollment_pairing_id": e.temporary_enrollment_pairing_id,
    }
    own = e.user_id == view.caller.user_id
    if own or view.rights.read_reports:
        body["last_activity_at"] = format_time(e.last_activity_at)
        body["last_attended_at"] = format_time(e.last_attended_at)
        body["total_activity_time"] = e.total_activity_time
    if view.rights.manage_sis:
        body["sis_import_id"] = e.sis_import_id
    if e.type == "StudentEnrollment":
        grades: dict[str, Any] = {"html_url": f"{view.base_url}/courses/{e.course_id}/grades/{e.user_id}"}
        graders = view.rights.view_all_grades or view.rights.manage_grades
        if own or graders:
            grades.update(current_grade=None, current_score=None, final_grade=None, final_score=None)
            if graders:
                grades.update(
                    unposted_current_score=None,
                    unposted_current_grade=None,
                    unposted_final_score=None,
                    unposted_final_grade=None,
                )
            if "current_points" in view.includes:
                grades["current_points"] = None
                if graders:
                    grades["unposted_current_points"] = None
        body["grades"] = grades
    if view.rights.read_sis:
        account = store.accounts[course.account_id]
        body.update(
            sis_account_id=account.sis_account_id,
            sis_course_id=course.sis_course_id,
            course_integration_id=course.integration_id,
            sis_section_id=section.sis_section_id,
            section_integration_id=section.integration_id,
        )
        sis_login = pseudonyms.for_enrollment(store, e)
        body["sis_user_id"] = sis_login.sis_user_id if sis_login else None
    body["html_url"] = f"{view.base_url}/courses/{e.course_id}/users/{e.user_id}"
    if view.includes:
        _add_includes(store, e, view, body)
    if view.with_user:
        body["user"] = user_json(store, user, view)
    return body


_ROW = operator.attrgetter(*Enrollment.__slots__)  # every column of a row, as one tuple
_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode  # fresh trees: no cycles
_CACHE_LIMIT = 250_000


def enrollment_fragment(store: Store, e: Enrollment, view: View) -> str:
    """``enrollment_json`` already encoded, memoised on everything the JSON depends on.

    The key holds every column of the row (so rows changed in place, even by a test
    poking the store, never hit a stale entry), the course and section states, and the
    view. ``observed_users`` reads other rows, so it is never cached.
    """
    if "observed_users" in view.includes:
        return _ENCODE(enrollment_json(store, e, view))
    # The embedded user's pseudonym can depend on the user's other rows (several logins only).
    shown = None
    if view.with_user and e.user_id in store.several_logins:
        login = pseudonyms.for_user(store, e.user_id, view.sis_context)
        shown = login.id if login else None
    key = (
        _ROW(e),
        store.courses[e.course_id].workflow_state,
        store.sections[e.course_section_id].workflow_state,
        view.base_url,
        view.caller.admin,
        view.caller.user_id == e.user_id,
        view.rights,
        view.includes,
        view.with_user,
        shown,
    )
    cache = store.json_cache
    text = cache.get(key)
    if text is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        text = _ENCODE(enrollment_json(store, e, view))
        cache[key] = text
    return text


def _add_includes(store: Store, e: Enrollment, view: View, body: dict[str, Any]) -> None:
    includes = view.includes
    if "locked" in includes:
        body["locked"] = e.sis_import_id is not None and not view.caller.admin
    if "can_be_removed" in includes:
        sis_locked = e.sis_import_id is not None and not view.caller.admin
        body["can_be_removed"] = not sis_locked and view.rights.may_delete(e, view.caller.user_id)
    if "group_ids" in includes:
        body["group_ids"] = []
    if "observed_users" in includes and e.type == "ObserverEnrollment" and e.associated_user_id is not None:
        observed = store.users.get(e.associated_user_id)
        if observed is not None and observed.workflow_state != "deleted":
            student_view = View(view.base_url, view.caller, view.rights)
            observed_body = user_json(store, observed, view)
            observed_body["enrollments"] = [
                enrollment_json(store, store.enrollments[k[2]], student_view)
                for k in store.user_index.get(observed.id, [])
                if store.enrollments[k[2]].course_id == e.course_id
                and store.enrollments[k[2]].type == "StudentEnrollment"
                and store.enrollments[k[2]].workflow_state not in ("completed", "deleted", "rejected")
            ]
            body["observed_user"] = observed_body
    if "temporary_enrollment_providers" in includes and e.temporary_enrollment_source_user_id is not None:
        provider = store.users.get(e.temporary_enrollment_source_user_id)
        if provider is not None:
            body["temporary_enrollment_provider"] = user_json(store, provider, view)


def course_json(
    store: Store, course: Course, rights: CourseRights, includes: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Canvas's course JSON (``lib/api/v1/course_json.rb``): ``workflow_state`` is
    ``Course#api_state`` (created and claimed show as ``unpublished``); the SIS fields need
    read_sis. ``include[]=term`` adds the term, ``include[]=concluded`` whether the course is
    concluded by its state or by course/term dates (facts §7.5)."""
    body: dict[str, Any] = {
        "id": course.id,
        "name": course.name,
        "course_code": course.course_code,
        "account_id": course.account_id,
        "root_account_id": store.root_account_id,
        "enrollment_term_id": course.enrollment_term_id,
        "workflow_state": "unpublished"
        if course.workflow_state in ("created", "claimed")
        else course.workflow_state,
        "start_at": format_time(course.start_at),
        "end_at": format_time(course.end_at),
        "restrict_enrollments_to_course_dates": course.restrict_enrollments_to_course_dates,
        "uuid": course.uuid,
        "default_view": "modules",
        "is_public": False,
    }
    if rights.read_sis:
        body["sis_course_id"] = course.sis_course_id
        body["integration_id"] = course.integration_id
    if "term" in includes:
        term = store.term(course.enrollment_term_id)
        body["term"] = term_json(term, manage_sis=rights.manage_sis) if term is not None else None
    if "concluded" in includes:
        body["concluded"] = course_concluded(store, course, store.now())
    return body


def term_json(term: Term, *, manage_sis: bool) -> dict[str, Any]:
    """``lib/api/v1/enrollment_term.rb#enrollment_term_json``. The SIS fields need rights on the
    root account, which only account admins have here."""
    body: dict[str, Any] = {
        "id": term.id,
        "name": term.name,
        "start_at": format_time(term.start_at),
        "end_at": format_time(term.end_at),
        "workflow_state": "active",
        "grading_period_group_id": None,
        "created_at": format_time(term.created_at),
    }
    if manage_sis:
        body["sis_term_id"] = term.sis_term_id
        body["sis_import_id"] = None
    return body


def section_json(
    store: Store, section: Section, rights: CourseRights, includes: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``lib/api/v1/section.rb#section_json``: ``course_id`` is the course the section is in
    now, ``nonxlist_course_id`` its original course when cross-listed (facts §14.2). The SIS
    fields need read_sis on the section's course; ``sis_course_id`` is that course's."""
    body: dict[str, Any] = {
        "id": section.id,
        "name": section.name,
        "course_id": section.course_id,
        "nonxlist_course_id": section.nonxlist_course_id,
        "start_at": format_time(section.start_at),
        "end_at": format_time(section.end_at),
        "restrict_enrollments_to_section_dates": section.restrict_enrollments_to_section_dates,
    }
    if rights.read_sis:
        body["sis_section_id"] = section.sis_section_id
        body["sis_course_id"] = store.courses[section.course_id].sis_course_id
        body["integration_id"] = section.integration_id
    if rights.manage_sis:
        body["sis_import_id"] = None
    if "total_students" in includes:
        # "the total number of active and invited students in the section"
        body["total_students"] = sum(
            1
            for key in store.section_index.get(section.id, [])
            if key[0] == "StudentEnrollment"
            and store.enrollments[key[2]].workflow_state in ("active", "invited")
        )
    return body


def progress_json(progress: Progress, base_url: str) -> dict[str, Any]:
    """Progress JSON (facts §4); ``results`` only once it is no longer pending."""
    body: dict[str, Any] = {
        "id": progress.id,
        "context_id": progress.context_id,
        "context_type": "Account",
        "user_id": progress.user_id,
        "tag": progress.tag,
        "completion": progress.completion,
        "workflow_state": progress.workflow_state,
        "created_at": format_time(progress.created_at),
        "updated_at": format_time(progress.updated_at),
        "message": progress.message,
        "url": f"{base_url}/api/v1/progress/{progress.id}",
    }
    if progress.workflow_state not in ("queued", "running") and progress.results is not None:
        body["results"] = progress.results
    return body
