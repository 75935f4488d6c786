"""Role permissions and the per-action checks built on them (facts §5.1, §14.5).

Defaults are canvas-lms ``app/models/role_override.rb`` (``true_for`` / ``available_to`` of
each permission, classic non-granular model); a seed's ``role_overrides`` turn a permission
on or off for one role, as a RoleOverride on the root account does, but only where the
permission is available to the role's base type (elsewhere it is locked). Account admins
hold the AccountAdmin role (id 1): every permission unless overridden there.

The checks are ``app/models/enrollment.rb``'s:

- ``can_be_concluded_by``: a StudentEnrollment with ``manage_students``; any other type
  (ObserverEnrollment and the Student View student included) needs ``manage_admin_users``.
- ``can_be_deleted_by`` (DELETE task=delete/inactivate, reactivate, ``can_be_removed``):
  the Student View student needs ``use_student_view``; otherwise ``manage_admin_users`` for
  anything but a StudentEnrollment, or ``manage_students`` for a StudentEnrollment or
  ObserverEnrollment; and one's own enrollment only with the account-level
  ``manage_admin_users`` of an account admin.
- ``can_create_enrollment_for`` (POST, bulk): students and observers need
  ``manage_students``, other types ``manage_admin_users``.
- The last-attended PUT needs ``view_all_grades`` or ``manage_grades``; ``last_activity_at``,
  ``last_attended_at`` and ``total_activity_time`` are in enrollment JSON only for one's own
  row or with ``read_reports`` (absent, not null, otherwise).
"""

from __future__ import annotations

from reconcile.sim.model import Enrollment

TEACHER, TA, DESIGNER, STUDENT, OBSERVER = (
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "StudentEnrollment",
    "ObserverEnrollment",
)
STAFF = frozenset({TEACHER, TA, DESIGNER})

# permission -> (base types it is on for by default, base types it can be set for)
COURSE_PERMISSIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "read_roster": (
        frozenset({STUDENT, TA, DESIGNER, TEACHER}),
        frozenset({STUDENT, TA, DESIGNER, TEACHER, OBSERVER}),
    ),
    "read_sis": (frozenset({TEACHER}), frozenset({TEACHER, TA, STUDENT})),
    "view_user_logins": (frozenset({TEACHER, TA}), frozenset({TEACHER, TA})),
    "view_all_grades": (frozenset({TA, TEACHER}), frozenset({TA, DESIGNER, TEACHER})),
    "manage_grades": (frozenset({TA, TEACHER}), frozenset({TA, TEACHER})),
    "read_reports": (frozenset({TA, DESIGNER, TEACHER}), frozenset({TA, DESIGNER, TEACHER})),
    "manage_students": (frozenset({TA, DESIGNER, TEACHER}), frozenset({TA, DESIGNER, TEACHER})),
    "manage_admin_users": (frozenset({TEACHER}), frozenset({TA, DESIGNER, TEACHER})),
    "manage_sections_edit": (frozenset({TEACHER, DESIGNER}), frozenset({TEACHER, TA, DESIGNER})),
    "use_student_view": (frozenset({TEACHER, TA, DESIGNER}), frozenset({TEACHER, TA, DESIGNER})),
}
# Held by account admins only (account-level permissions a course role cannot have).
ACCOUNT_PERMISSIONS = ("manage_sis", "manage_user_observers")
ACCOUNT_ADMIN_ROLE_ID = 1
ALL_PERMISSIONS = (*COURSE_PERMISSIONS, *ACCOUNT_PERMISSIONS)


def role_permission(
    overrides: dict[tuple[int, str], bool], role_id: int, base_type: str, permission: str
) -> bool:
    """Whether a course role holds ``permission``: its override if the permission is
    available to the base type, else the default."""
    on_for, available = COURSE_PERMISSIONS[permission]
    if base_type in available and (role_id, permission) in overrides:
        return overrides[(role_id, permission)]
    return base_type in on_for


def admin_permission(overrides: dict[tuple[int, str], bool], permission: str) -> bool:
    """Whether the AccountAdmin role holds ``permission`` (everything unless overridden)."""
    return overrides.get((ACCOUNT_ADMIN_ROLE_ID, permission), True)


def may_be_set(base_type: str, permission: str) -> bool:
    """Whether a role override of ``permission`` can apply to a role of this base type."""
    if base_type == "AccountAdmin":
        return permission in ALL_PERMISSIONS
    return permission in COURSE_PERMISSIONS and base_type in COURSE_PERMISSIONS[permission][1]


def can_create(manage_students: bool, manage_admin_users: bool, enrollment_type: str) -> bool:
    """``can_create_enrollment_for`` in the classic permission model."""
    if enrollment_type in (STUDENT, OBSERVER, "StudentViewEnrollment"):
        return manage_students
    return manage_admin_users


def can_conclude(manage_students: bool, manage_admin_users: bool, enrollment: Enrollment) -> bool:
    """``Enrollment#can_be_concluded_by``."""
    return (enrollment.type == STUDENT and manage_students) or manage_admin_users


def can_delete(
    *,
    manage_students: bool,
    manage_admin_users: bool,
    use_student_view: bool,
    account_manage_admin_users: bool,
    enrollment: Enrollment,
    caller_id: int,
) -> bool:
    """``Enrollment#can_be_deleted_by`` (classic permissions)."""
    if enrollment.type == "StudentViewEnrollment":
        return use_student_view
    removable = (manage_admin_users and enrollment.type != STUDENT) or (
        enrollment.type in (STUDENT, OBSERVER) and manage_students
    )
    return removable and (enrollment.user_id != caller_id or account_manage_admin_users)
