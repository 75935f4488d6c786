"""The enrollments CSV of the provisioning report (facts §14.6), as canvas-lms writes it in
``gems/plugins/account_reports/lib/account_reports/sis_exporter.rb`` (``enrollments``,
``enrollment_query``, ``enrollment_query_options``, ``enrollment_row``) with the helpers of
``report_helper.rb`` (``loaded_pseudonym``, ``add_term_scope``,
``add_course_sub_account_scope``).

What the current code does, which differs from older versions and from the public docs:

- One row per enrollment, never one per login: the user's login is *chosen*
  (:func:`reconcile.sim.pseudonyms.for_report`), not joined. A user with no login the
  report may use is left out; ``user_id`` is the chosen login's SIS id (blank if it has
  none). Older Canvas inner-joined ``pseudonyms``, so a user with two logins was listed twice.
- The course is the section's course *now* (``INNER JOIN courses ON courses.id =
  cs.course_id``): a cross-listed section's rows name the course it was cross-listed
  into. Older Canvas named the original course (``nonxlist_course_id``).
- ``status``: ``deleted`` when the section or its course is deleted, else ``invited``
  (invited, creation_pending), ``active``, ``concluded`` (completed), ``inactive``,
  ``deleted``, ``rejected``. Rows of deleted courses are not left out, they say ``deleted``.
- Without ``include_deleted``: no deleted and no completed enrollments. With it: every
  enrollment but deleted ones without an SIS import (``sis_batch_id``); deleted logins may
  then be chosen too.
- Never the Student View student. ``created_by_sis`` (and the ``created_by_sis`` filter
  parameter) is "was made by an SIS import"; ``role`` is the custom role's name, else the
  SIS type (``student``, ``teacher``, ``ta``, ``designer``, ``observer``);
  ``base_role_type`` the enrollment type. Booleans are written ``true``/``false``, blanks
  as empty fields, lines end in ``\\n`` (Ruby's CSV).
- Filters: the account of the path and its sub-accounts (course account associations),
  ``enrollment_term_id`` (the course's term), ``enrollment_filter`` (types) and
  ``enrollment_states`` (workflow states). Rows in enrollment id order
  (``find_in_batches(strategy: :id)``).

Not modelled: the two temporary-enrollment columns Canvas appends when the root account
has the ``temporary_enrollments`` feature, and ``root_account`` (cross-account trust).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from reconcile.sim import pseudonyms
from reconcile.sim.model import Enrollment
from reconcile.sim.store import Store

HEADERS = (
    "canvas_course_id",
    "course_id",
    "canvas_user_id",
    "user_id",
    "role",
    "role_id",
    "canvas_section_id",
    "section_id",
    "status",
    "canvas_associated_user_id",
    "associated_user_id",
    "created_by_sis",
    "base_role_type",
    "limit_section_privileges",
    "canvas_enrollment_id",
)

SIS_TYPES = {
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "ta",
    "DesignerEnrollment": "designer",
    "StudentEnrollment": "student",
    "ObserverEnrollment": "observer",
}
STATUS = {
    "invited": "invited",
    "creation_pending": "invited",
    "active": "active",
    "completed": "concluded",
    "inactive": "inactive",
    "deleted": "deleted",
    "rejected": "rejected",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """What one report covers: its account (with sub-accounts) and its parameters."""

    account_id: int
    include_deleted: bool = False
    term_id: int | None = None
    created_by_sis: bool = False
    types: frozenset[str] | None = None
    states: frozenset[str] | None = None


def _wanted(e: Enrollment, scope: Scope) -> bool:
    """The enrollment's own filters (type, state, SIS); the course's are checked apart."""
    if e.type == "StudentViewEnrollment":
        return False
    if scope.include_deleted:
        if e.workflow_state == "deleted" and e.sis_import_id is None:
            return False
    elif e.workflow_state in ("deleted", "completed"):
        return False
    if scope.created_by_sis and e.sis_import_id is None:
        return False
    if scope.types is not None and e.type not in scope.types:
        return False
    return scope.states is None or e.workflow_state in scope.states


def _courses_in_scope(store: Store, scope: Scope) -> set[int]:
    """Courses of the account or its sub-accounts (course account associations), in the term."""
    return {
        c.id
        for c in store.courses.values()
        if (scope.term_id is None or c.enrollment_term_id == scope.term_id)
        and scope.account_id in store.account_chain(c.account_id)
    }


def enrollments_csv(store: Store, scope: Scope) -> tuple[bytes, int]:
    """The report's CSV (UTF-8, header first) and its number of data rows, as of now.

    Call under the store's lock: it reads every enrollment.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    rows = 0
    courses = _courses_in_scope(store, scope)
    for enrollment_id in sorted(store.enrollments):
        e = store.enrollments[enrollment_id]
        if not _wanted(e, scope) or store.sections[e.course_section_id].course_id not in courses:
            continue
        login = pseudonyms.for_report(
            store, e.user_id, include_deleted=scope.include_deleted, sis_pseudonym_id=e.sis_pseudonym_id
        )
        if login is None:
            continue
        section = store.sections[e.course_section_id]
        course = store.courses[section.course_id]
        observee = (
            pseudonyms.for_report(store, e.associated_user_id, include_deleted=scope.include_deleted)
            if e.associated_user_id is not None
            else None
        )
        role = store.roles[e.role_id]
        status = (
            "deleted"
            if "deleted" in (section.workflow_state, course.workflow_state)
            else STATUS[e.workflow_state]
        )
        row = (
            e.course_id,
            course.sis_course_id,
            e.user_id,
            login.sis_user_id,
            SIS_TYPES.get(e.type, "student") if role.built_in else role.label,
            e.role_id,
            e.course_section_id,
            section.sis_section_id,
            status,
            e.associated_user_id,
            observee.sis_user_id if observee is not None else None,
            "false" if e.sis_import_id is None else "true",
            e.type,
            "true" if e.limit_privileges_to_course_section else "false",
            e.id,
        )
        writer.writerow(row)  # None is written as an empty field
        rows += 1
    return out.getvalue().encode("utf-8"), rows


XLIST_HEADERS = (
    "canvas_xlist_course_id",
    "xlist_course_id",
    "canvas_section_id",
    "section_id",
    "status",
    "canvas_nonxlist_course_id",
    "nonxlist_course_id",
)


def xlist_csv(store: Store, scope: Scope) -> tuple[bytes, int]:
    """The report's cross-listings CSV (``xlist``, ``xlist_query_options`` in sis_exporter.rb):
    every section with a ``nonxlist_course_id``, under the course it is in now (account and
    term scope on that course). Without ``include_deleted``: neither the course nor the section
    deleted, the course not completed; with it: neither deleted, or both with SIS ids. Rows in
    section id order (``find_each``). Call under the store's lock."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(XLIST_HEADERS)
    rows = 0
    courses = _courses_in_scope(store, scope)
    for section_id in sorted(store.sections):
        section = store.sections[section_id]
        if section.nonxlist_course_id is None or section.course_id not in courses:
            continue
        course = store.courses[section.course_id]
        gone = "deleted" in (course.workflow_state, section.workflow_state)
        if scope.include_deleted:
            if gone and not (course.sis_course_id and section.sis_section_id):
                continue
        elif gone or course.workflow_state == "completed":
            continue
        original = store.courses.get(section.nonxlist_course_id)
        writer.writerow(
            (
                course.id,
                course.sis_course_id,
                section.id,
                section.sis_section_id,
                section.workflow_state,
                section.nonxlist_course_id,
                original.sis_course_id if original is not None else None,
            )
        )
        rows += 1
    return out.getvalue().encode("utf-8"), rows


USER_OBSERVERS_HEADERS = (
    "canvas_observer_id",
    "observer_id",
    "canvas_student_id",
    "student_id",
    "status",
    "created_by_sis",
)


def user_observers_csv(store: Store, scope: Scope) -> tuple[bytes, int]:
    """The report's observer links CSV (``user_observers``, ``user_observer_query_options``):
    a row per link, per login of the student and login of the observer (the query joins both
    users' pseudonyms of the root account; duplicates for several logins are Canvas's).
    Without ``include_deleted``: the student's login active and the link not deleted. Rows in
    the student login's id order (``find_each``). The simulator's links carry no SIS batch, so
    ``created_by_sis`` is ``false``. Call under the store's lock."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USER_OBSERVERS_HEADERS)
    rows = 0
    logins = sorted(
        (login for every in store.pseudonyms.values() for login in every), key=lambda login: login.id
    )
    for login in logins:
        if not scope.include_deleted and login.workflow_state == "deleted":
            continue
        for link_id in store.links_of_student.get(login.user_id, ()):
            link = store.links[link_id]
            if not scope.include_deleted and link.workflow_state == "deleted":
                continue
            for observer_login in store.pseudonyms.get(link.observer_id, ()):
                writer.writerow(
                    (
                        link.observer_id,
                        observer_login.sis_user_id,
                        link.student_id,
                        login.sis_user_id,
                        link.workflow_state,
                        "false",
                    )
                )
                rows += 1
    return out.getvalue().encode("utf-8"), rows
