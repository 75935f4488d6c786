"""Who is calling and what they may do.

A token belongs to a user. An admin token (an account admin of the root account) may do
everything. Any other user's rights in a course come from their own current enrollments
there, following Canvas's default role permissions: teachers manage the roster, TAs
manage students, students read the roster, observers see their observees only.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.sim import errors
from reconcile.sim.dates import effective_state
from reconcile.sim.model import Course, Token
from reconcile.sim.store import Store


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user of a request."""

    user_id: int
    admin: bool
    token_key: str

    @classmethod
    def from_token(cls, token: Token) -> Caller:
        return cls(user_id=token.user_id, admin=token.admin, token_key=token.token)


@dataclass(frozen=True, slots=True)
class CourseRights:
    """The caller's permissions in one course (names as in Canvas's permission list)."""

    read_roster: bool = False
    read_as_admin: bool = False
    manage_students: bool = False
    manage_admin_users: bool = False
    read_sis: bool = False
    view_all_grades: bool = False
    view_user_logins: bool = False
    manage_sis: bool = False
    # manage_sections_edit (section :update) and course :manage, which cross-listing needs
    manage_sections: bool = False
    manage_course: bool = False
    observer: bool = False
    # Sections the caller is limited to (limit_privileges_to_course_section), None = all.
    visible_sections: frozenset[int] | None = None
    observees: frozenset[int] = frozenset()


ADMIN_RIGHTS = CourseRights(
    read_roster=True,
    read_as_admin=True,
    manage_students=True,
    manage_admin_users=True,
    read_sis=True,
    view_all_grades=True,
    view_user_logins=True,
    manage_sis=True,
    manage_sections=True,
    manage_course=True,
)


def authenticate(store: Store, token: str | None) -> Caller:
    """The caller of a token; 401 in Canvas's shapes when missing or unknown."""
    if token is None:
        raise errors.unauthenticated()
    found = store.tokens.get(token)
    user = store.users.get(found.user_id) if found is not None else None
    if found is None or user is None or user.workflow_state == "deleted":
        raise errors.invalid_token()
    return Caller.from_token(found)


def account_rights(store: Store, caller: Caller) -> CourseRights:
    """The caller's rights on the root account: everything for an admin, nothing otherwise."""
    return ADMIN_RIGHTS if caller.admin else CourseRights()


def course_rights(store: Store, caller: Caller, course: Course) -> CourseRights:
    """The caller's rights in ``course``, from admin status or their current enrollments."""
    if caller.admin:
        return ADMIN_RIGHTS
    now = store.now()
    teacher = ta = student = designer = observer = False
    sections: set[int] = set()
    unlimited = False
    observees: set[int] = set()
    for key in store.user_index.get(caller.user_id, []):
        e = store.enrollments[key[2]]
        if e.course_id != course.id or e.workflow_state == "deleted":
            continue
        if e.type == "ObserverEnrollment":
            # "has been an observer": any observer row that is not deleted (Enrollment.active
            # in Canvas excludes only deleted rows), whatever its dates say.
            observer = True
            if e.associated_user_id is not None:
                observees.add(e.associated_user_id)
        if effective_state(store, e, now) != "active":
            continue
        teacher |= e.type == "TeacherEnrollment"
        ta |= e.type == "TaEnrollment"
        designer |= e.type == "DesignerEnrollment"
        student |= e.type in ("StudentEnrollment", "StudentViewEnrollment")
        if e.limit_privileges_to_course_section:
            sections.add(e.course_section_id)
        else:
            unlimited = True
    staff = teacher or ta or designer
    return CourseRights(
        read_roster=staff or student,
        read_as_admin=staff,
        manage_students=teacher or ta,
        manage_admin_users=teacher,
        read_sis=teacher or ta,
        view_all_grades=teacher or ta,
        view_user_logins=teacher or ta,
        manage_sections=teacher or designer,
        manage_course=staff,
        observer=observer,
        visible_sections=None if unlimited or not sections else frozenset(sections),
        observees=frozenset(observees),
    )


def may_read_course(store: Store, caller: Caller, course: Course) -> bool:
    """Course ``:read`` (courses_controller#show, sections_controller#index): an admin, or a
    user with an enrollment there that is not deleted, rejected or still creation_pending,
    in a course that is not deleted."""
    if caller.admin:
        return True
    if course.workflow_state == "deleted":
        return False
    for key in store.user_index.get(caller.user_id, []):
        e = store.enrollments[key[2]]
        if e.course_id == course.id and e.workflow_state not in ("deleted", "rejected", "creation_pending"):
            return True
    return False


def may_manage(rights: CourseRights, enrollment_type: str) -> bool:
    """``can_create_enrollment_for`` / ``can_be_concluded_by`` in the classic permission model."""
    if enrollment_type in ("StudentEnrollment", "ObserverEnrollment", "StudentViewEnrollment"):
        return rights.manage_students
    return rights.manage_admin_users
