"""Which operations the token may make, from the rights Canvas reports for it per course. Pure.

The checks are ``app/models/enrollment.rb``'s (facts §5.1, §14.5), in Canvas's classic
permission names, as ``GET /courses/:id/permissions`` reports them:

- POST (enroll, restore, update), ``can_create_enrollment_for``: students and observers need
  ``manage_students``; teachers, TAs and designers ``manage_admin_users``;
- DELETE task=conclude, ``can_be_concluded_by``: a student needs ``manage_students``; every
  other type, observers included, ``manage_admin_users``;
- DELETE task=delete or inactivate and PUT reactivate, ``can_be_deleted_by``: students and
  observers ``manage_students``, other types ``manage_admin_users``; and one's own enrollment
  only with account-level rights (an account admin), which a course's rights cannot show;
- PUT last_attended: ``view_all_grades`` or ``manage_grades``.

A course whose rights Canvas would not report (the token may not read it) is not judged:
its operations meet Canvas's own answer at apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from reconcile.plan import Action, Operation, Plan, PlanWarning

STUDENTISH = ("StudentEnrollment", "ObserverEnrollment")
POSTS = (Action.ENROLL, Action.RESTORE, Action.UPDATE)
REMOVES = (Action.DELETE, Action.INACTIVATE, Action.REACTIVATE)


def needed(op: Operation, *, base_type: str) -> tuple[str, ...]:
    """The rights any one of which lets the token make ``op`` (``base_type``: its role's type)."""
    if op.action is Action.SET_LAST_ATTENDED:
        return ("view_all_grades", "manage_grades")
    if op.action is Action.CONCLUDE:
        return ("manage_students",) if base_type == "StudentEnrollment" else ("manage_admin_users",)
    if op.action in POSTS or op.action in REMOVES:
        return ("manage_students",) if base_type in STUDENTISH else ("manage_admin_users",)
    return ()


def rights_warnings(
    plan: Plan,
    held: Mapping[str, Mapping[str, bool]],
    *,
    own_user_id: int | None,
    custom_roles: Mapping[str, str | None],
) -> tuple[PlanWarning, ...]:
    """One warning per (course, kind of operation, role) the token may not make, and one per removal
    of the token's own enrollment."""
    refused: Counter[tuple[str, str, str, str]] = Counter()
    own: list[Operation] = []
    for op in plan.operations:
        rights = held.get(op.target.course)
        if not rights:
            continue
        base = _base_type(op, custom_roles)
        options = needed(op, base_type=base)
        if options and not any(rights.get(name, False) for name in options):
            refused[(op.target.course, op.action.value, op.target.role, " or ".join(options))] += 1
        elif (
            op.action in (Action.DELETE, Action.INACTIVATE, Action.CONCLUDE)
            and own_user_id is not None
            and (op.before or {}).get("user_id") == own_user_id
        ):
            own.append(op)
    warnings = [
        PlanWarning(
            code="not_permitted",
            message=f"this token may not {action} {role} enrollments in {course} (it needs {rights}): "
            f"{count} {'operation' if count == 1 else 'operations'} would be refused at apply",
            course=course,
        )
        for (course, action, role, rights), count in sorted(refused.items())
    ]
    warnings += [
        PlanWarning(
            code="not_permitted",
            message=f"{op.action.value} of {op.target.user} in {op.target.course} removes this token's own "
            "enrollment, which Canvas allows only to an account admin",
            course=op.target.course,
            user=op.target.user,
        )
        for op in own
    ]
    return tuple(warnings)


def _base_type(op: Operation, custom_roles: Mapping[str, str | None]) -> str:
    role = op.target.role
    if role.endswith("Enrollment"):
        return role
    given = op.request.params.get("enrollment[type]")
    if isinstance(given, str) and given:
        return given
    return custom_roles.get(role) or "unknown"
