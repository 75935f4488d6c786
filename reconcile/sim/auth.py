"""Who is calling and what they may do.

A token belongs to a user. An admin token (an account admin of the root account) holds the
AccountAdmin role: every permission unless a role override takes one away. Any other
user's rights in a course come from the roles of their own current enrollments there, with
Canvas's default role permissions and the seed's role overrides (:mod:`reconcile.sim.permissions`):
teachers manage the roster, TAs and designers manage students, students read the roster,
observers see their observees only.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.sim import errors, permissions
from reconcile.sim.dates import effective_state
from reconcile.sim.model import Course, Enrollment, Token
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
    manage_grades: bool = False
    read_reports: bool = False
    view_user_logins: bool = False
    use_student_view: bool = False
    manage_sis: bool = False
    # manage_sections_edit (section :update) and course :manage, which cross-listing needs
    manage_sections: bool = False
    manage_course: bool = False
    # manage_admin_users on the account: lets an admin remove their own enrollment
    account_manage_admin_users: bool = False
    observer: bool = False
    # Sections the caller is limited to (limit_privileges_to_course_section), None = all.
    visible_sections: frozenset[int] | None = None
    observees: frozenset[int] = frozenset()

    def may_create(self, enrollment_type: str) -> bool:
        return permissions.can_create(self.manage_students, self.manage_admin_users, enrollment_type)

    def may_conclude(self, enrollment: Enrollment) -> bool:
        return permissions.can_conclude(self.manage_students, self.manage_admin_users, enrollment)

    def may_delete(self, enrollment: Enrollment, caller_id: int) -> bool:
        return permissions.can_delete(
            manage_students=self.manage_students,
            manage_admin_users=self.manage_admin_users,
            use_student_view=self.use_student_view,
            account_manage_admin_users=self.account_manage_admin_users,
            enrollment=enrollment,
            caller_id=caller_id,
        )

    def granted(self, permission: str) -> bool:
        """The answer of ``GET /courses/:id/permissions`` for one permission name."""
        name = {"manage_sections_edit": "manage_sections", "manage": "manage_course"}.get(
            permission, permission
        )
        value = getattr(self, name, False) if name in _PERMISSION_FIELDS else False
        return bool(value)


_PERMISSION_FIELDS = frozenset(
    {
        "read_roster",
        "read_as_admin",
        "manage_students",
        "manage_admin_users",
        "read_sis",
        "view_all_grades",
        "manage_grades",
        "read_reports",
        "view_user_logins",
        "use_student_view",
        "manage_sis",
        "manage_sections",
        "manage_course",
    }
)


def admin_rights(store: Store) -> CourseRights:
    """The AccountAdmin role's rights, with the seed's overrides of role 1 (computed once:
    overrides come from the seed only)."""
    cached = store.memo.get("admin_rights")
    if isinstance(cached, CourseRights):
        return cached
    overrides = store.role_overrides

    def has(permission: str) -> bool:
        return permissions.admin_permission(overrides, permission)

    rights = CourseRights(
        read_roster=has("read_roster"),
        read_as_admin=True,
        manage_students=has("manage_students"),
        manage_admin_users=has("manage_admin_users"),
        read_sis=has("read_sis"),
        view_all_grades=has("view_all_grades"),
        manage_grades=has("manage_grades"),
        read_reports=has("read_reports"),
        view_user_logins=has("view_user_logins"),
        use_student_view=has("use_student_view"),
        manage_sis=has("manage_sis"),
        manage_sections=has("manage_sections_edit"),
        manage_course=True,
        account_manage_admin_users=has("manage_admin_users"),
    )
    store.memo["admin_rights"] = rights
    return rights


# Kept for callers that only need "an unrestricted admin" (seeds without overrides).
ADMIN_RIGHTS = CourseRights(
    read_roster=True,
    read_as_admin=True,
    manage_students=True,
    manage_admin_users=True,
    read_sis=True,
    view_all_grades=True,
    manage_grades=True,
    read_reports=True,
    view_user_logins=True,
    use_student_view=True,
    manage_sis=True,
    manage_sections=True,
    manage_course=True,
    account_manage_admin_users=True,
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
    """The caller's rights on the root account: the AccountAdmin role's for an admin,
    nothing otherwise."""
    return admin_rights(store) if caller.admin else CourseRights()


def course_rights(store: Store, caller: Caller, course: Course) -> CourseRights:
    """The caller's rights in ``course``: an admin's, or those of the roles of their
    current enrollments there (any one enrollment granting a permission is enough)."""
    if caller.admin:
        return admin_rights(store)
    now = store.now()
    held: set[str] = set()
    types: set[str] = set()
    sections: set[int] = set()
    unlimited = False
    observer = False
    observees: set[int] = set()
    overrides = store.role_overrides
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
        base = "StudentEnrollment" if e.type == "StudentViewEnrollment" else e.type
        types.add(base)
        for permission in permissions.COURSE_PERMISSIONS:
            if permission not in held and permissions.role_permission(overrides, e.role_id, base, permission):
                held.add(permission)
        if e.limit_privileges_to_course_section:
            sections.add(e.course_section_id)
        else:
            unlimited = True
    staff = bool(types & permissions.STAFF)
    return CourseRights(
        read_roster="read_roster" in held,
        read_as_admin=staff,
        manage_students="manage_students" in held,
        manage_admin_users="manage_admin_users" in held,
        read_sis="read_sis" in held,
        view_all_grades="view_all_grades" in held,
        manage_grades="manage_grades" in held,
        read_reports="read_reports" in held,
        view_user_logins="view_user_logins" in held,
        use_student_view="use_student_view" in held,
        manage_sections="manage_sections_edit" in held,
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
