"""The API call of an operation, derived from the operation's own content. Pure.

:func:`derive_request` is the one place that turns an operation's action, target,
``before`` (the Canvas row it acts on) and ``after`` (what that row should be afterwards,
plus what the POST sends) into the exact request apply makes. The planner builds every
request with it, and a saved plan is verified on load by deriving each request again and
comparing (:mod:`reconcile.planner.verify`; DESIGN §7): an edited request, or a request
that no longer follows from what ``reconcile show`` renders, is refused.

The Canvas facts each shape rests on:
- POST upserts of an existing row go to ``/api/v1/sections/<its numeric section id>/
  enrollments`` with its numeric user id, type and role_id, because Canvas matches the
  upsert on (user, type, role, section, associated user) and would otherwise create a
  second row in the default section (facts §3.4). They carry the full attribute set
  (a re-POST clears whatever it omits) and always an explicit ``enrollment_state``.
- A new enrollment goes to its section's (or course's) ref, the user as a ref (facts §9).
- DELETE and reactivate use the course's numeric id and the enrollment id (facts §5.1,
  §5.4); last_attended numeric course and user ids, because with SIS ids in that path
  Canvas matches nothing yet answers 200 (facts §5.5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconcile.frames import BASE_TYPES
from reconcile.plan import Request, Target
from reconcile.planner.keys import bool_text, escape_ref

TASKS = ("inactivate", "conclude", "delete")
POSTS = ("enroll", "restore", "update")
ASSOCIATED = "enrollment[associated_user_id]"

# the keys ``after`` carries for a POST, besides the state the row ends in
POST_AFTER = (
    "state",
    "requested_state",
    "type",
    "role_id",
    "start_at",
    "end_at",
    "limit_privileges_to_course_section",
    "associated_user_id",
    "notify",
)

_PLAIN_REF = re.compile(r"[A-Za-z0-9_.~:-]*")  # what quote(ref, safe=":") returns unchanged


def path_segment(ref: str) -> str:
    """A ref as one path segment: as written when plain, percent-escaped otherwise
    (facts §9), and in Canvas's hex form (``hex:sis_section_id:4131``) when its value
    holds ``..``, so that no path apply sends can ever contain a dot-dot segment, escaped
    or not (a proxy that unescapes ``%2F`` must not find ``../`` in it)."""
    ref = str(ref)
    if ".." in ref and ":" in ref:
        column, _, value = ref.partition(":")
        return f"hex:{column}:{value.encode('utf-8').hex()}"
    return ref if _PLAIN_REF.fullmatch(ref) else escape_ref(ref)


def placeholder(source: str) -> dict[str, str]:
    """The parameter value apply fills from operation ``source``'s response (see reconcile.plan)."""
    return {"from_operation": source, "field": "user_id"}


def derive_request(
    action: str,
    target: Target,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    observee_from: str | None = None,
) -> Request:
    """The request of an operation with this content.

    ``observee_from`` is the id of the operation whose response gives a new observer's
    observee (its ``depends_on``); it is sent as a placeholder, last among the parameters.
    Raises KeyError or TypeError when ``before``/``after`` lack what the action needs
    (the verifier reports that as a malformed operation)."""
    if action in TASKS:
        assert before is not None
        path = f"/api/v1/courses/{before['course_id']}/enrollments/{before['id']}"
        return Request("DELETE", path, {"task": action})
    if action == "reactivate":
        assert before is not None
        return Request(
            "PUT", f"/api/v1/courses/{before['course_id']}/enrollments/{before['id']}/reactivate", {}
        )
    if action == "set_last_attended":
        assert before is not None and after is not None
        path = f"/api/v1/courses/{before['course_id']}/users/{before['user_id']}/last_attended"
        return Request("PUT", path, {"date": after["last_attended_at"]})
    if action not in POSTS:
        raise KeyError(action)
    assert after is not None
    params: dict[str, Any] = {}
    if before is not None:
        path = f"/api/v1/sections/{before['section_id']}/enrollments"
        params["enrollment[user_id]"] = str(before["user_id"])
    else:
        if target.section:
            path = f"/api/v1/sections/{path_segment(target.section)}/enrollments"
        else:
            path = f"/api/v1/courses/{path_segment(target.course)}/enrollments"
        params["enrollment[user_id]"] = str(target.user)
    if after["type"]:
        params["enrollment[type]"] = str(after["type"])
    if after["role_id"] is not None:
        params["enrollment[role_id]"] = str(after["role_id"])
    elif before is None and target.role not in BASE_TYPES:
        params["enrollment[role]"] = target.role  # deprecated by Canvas but resolved by name (facts §3.1)
    if after["associated_user_id"] is not None:
        params[ASSOCIATED] = str(after["associated_user_id"])
    params["enrollment[enrollment_state]"] = after["requested_state"]
    if after["start_at"] is not None:
        params["enrollment[start_at]"] = after["start_at"]
    if after["end_at"] is not None:
        params["enrollment[end_at]"] = after["end_at"]
    params["enrollment[limit_privileges_to_course_section]"] = bool_text(
        bool(after["limit_privileges_to_course_section"])
    )
    params["enrollment[notify]"] = bool_text(bool(after["notify"]))
    if observee_from is not None and after["associated_user_id"] is None:
        params[ASSOCIATED] = placeholder(observee_from)
    return Request("POST", path, params)
