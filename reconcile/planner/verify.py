"""A saved plan is a reviewed document, not a script (DESIGN §7): its check on load. Pure.

``reconcile show`` renders an operation from its action, target, ``before`` and
``after``; ``reconcile apply`` sends its ``request``. :func:`verify_plan` makes sure those
are one and the same, so that what was reviewed is what runs, and refuses a plan where
they are not (apply exits 1 before any network call; show refuses to render it):

1. every request is one its action may make at all: the method and path shape of the
   Enrollments endpoint that action uses (numeric ids, or escaped SIS refs for a new
   enrollment), the parameter keys it sends, and nothing that could lead the path
   elsewhere (``..`` in any spelling, ``//``, a query or fragment, a backslash);
2. every request equals the one :func:`reconcile.planner.calls.derive_request` derives
   from the operation's own content, the function the planner built it with;
3. dependencies name operations of the plan, a placeholder names the observee's enroll,
   and both halves of a move belong together;
4. every operation id, the summary and the plan id are what the content gives.

Checks 2-4 catch edits of every kind, since a hash covers each field that matters; the
allow-list (1) holds even for a plan whose hashes were recomputed after an edit (only a
signature, ``plan --sign``, proves who made a plan), and apply's stale check then
confirms each enrollment id against the course it claims to be in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from reconcile.frames import BASE_TYPES
from reconcile.plan import ARRIVAL_ACTIONS, DROP_ACTIONS, Operation, Plan, PlanFormatError
from reconcile.planner.calls import ASSOCIATED, POST_AFTER, POSTS, TASKS, derive_request
from reconcile.planner.links import move_id_of, operation_id
from reconcile.planner.ops import summarize

MAX_SHOWN = 5  # problems listed in the error; the rest are counted

_ID = r"\d{1,19}"
_ESCAPED = r"(?:[A-Za-z0-9_.~:-]|%[0-9A-Fa-f]{2})+"
_COURSE_REF = rf"(?:{_ID}|(?:hex:)?(?:sis_course_id|sis_integration_id):{_ESCAPED})"
_SECTION_REF = rf"(?:{_ID}|(?:hex:)?(?:sis_section_id|sis_integration_id):{_ESCAPED})"
USER_REF = re.compile(r"\A(?:\d{1,19}|(?:sis_user_id|sis_integration_id|sis_login_id):.+)\Z", re.DOTALL)

# action -> (method, path shape) of the one Enrollments endpoint it may call (facts §0)
ENDPOINTS: dict[str, tuple[str, re.Pattern[str]]] = {
    "enroll": (
        "POST",
        re.compile(rf"/api/v1/(?:courses/{_COURSE_REF}|sections/{_SECTION_REF})/enrollments"),
    ),
    "restore": ("POST", re.compile(rf"/api/v1/sections/{_ID}/enrollments")),
    "update": ("POST", re.compile(rf"/api/v1/sections/{_ID}/enrollments")),
    "reactivate": ("PUT", re.compile(rf"/api/v1/courses/{_ID}/enrollments/{_ID}/reactivate")),
    **{task: ("DELETE", re.compile(rf"/api/v1/courses/{_ID}/enrollments/{_ID}")) for task in TASKS},
    "set_last_attended": ("PUT", re.compile(rf"/api/v1/courses/{_ID}/users/{_ID}/last_attended")),
}
POST_PARAMS = frozenset(
    {
        "enrollment[user_id]",
        "enrollment[type]",
        "enrollment[role_id]",
        "enrollment[role]",
        ASSOCIATED,
        "enrollment[enrollment_state]",
        "enrollment[start_at]",
        "enrollment[end_at]",
        "enrollment[limit_privileges_to_course_section]",
        "enrollment[notify]",
    }
)
PARAMS: dict[str, frozenset[str]] = {
    **{action: POST_PARAMS for action in POSTS},
    **{task: frozenset({"task"}) for task in TASKS},
    "reactivate": frozenset(),
    "set_last_attended": frozenset({"date"}),
}
_ISO = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\Z")
_STATES = ("active", "invited", "inactive")


class PlanTampered(PlanFormatError):
    """The plan's requests, ids or structure do not follow from its content."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        shown = "\n  ".join(self.problems[:MAX_SHOWN])
        more = len(self.problems) - MAX_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"not a valid plan: it was changed after `reconcile plan` wrote it:\n  {shown}{tail}\n"
            "Nothing was sent. Make a new plan with `reconcile plan --out FILE` and review it."
        )


def verify_plan(plan: Plan) -> None:
    """Raise :class:`PlanTampered` unless ``plan`` passes every check of the module docstring."""
    problems: list[str] = []
    ids: dict[str, Operation] = {}
    for op in plan.operations:
        if op.id in ids:
            problems.append(f"{_name(op)}: the id is used by two operations")
        ids[op.id] = op
    for position, op in enumerate(plan.operations, start=1):
        problems += [f"{_name(op, position)}: {p}" for p in _operation_problems(op, ids)]
    problems += _move_problems(plan.operations)
    if not problems:
        # only once every operation holds together: their counts and the plan's own hash
        counted = summarize(plan.operations)  # other summary figures are covered by the plan id
        if {key: plan.summary.get(key) for key in counted} != counted:
            problems.append("the summary does not count the operations the plan holds")
        from reconcile.planner.core import plan_id_of

        if plan_id_of(plan) != plan.plan_id:
            problems.append(
                f"plan_id {plan.plan_id} is not the hash of the plan's content "
                "(its Canvas URL, inputs, policy, fingerprints, guards or operations were changed)"
            )
    if problems:
        raise PlanTampered(problems)


def _name(op: Operation, position: int | None = None) -> str:
    where = f"operation {position} " if position is not None else "operation "
    return f"{where}({op.id}: {op.action.value} {op.target.user} in {op.target.course})"


def _operation_problems(op: Operation, ids: Mapping[str, Operation]) -> list[str]:
    action = op.action.value
    shape = _request_problems(op)
    if shape:
        return shape  # a request no action may make: deriving would only repeat it
    inputs = _input_problems(op)
    if inputs:
        return inputs
    observee_from, problems = _placeholder(op, ids)
    if problems:
        return problems
    derived = derive_request(action, op.target, op.before, op.after, observee_from=observee_from)
    if (derived.method, derived.path, derived.params) != (
        op.request.method,
        op.request.path,
        op.request.params,
    ):
        differs = [
            key
            for key in sorted(set(derived.params) | set(op.request.params))
            if derived.params.get(key) != op.request.params.get(key)
        ]
        what = "its path" if derived.path != op.request.path else f"parameters {', '.join(differs)}"
        return [
            f"its request {op.request.method} {op.request.path} differs from the one its content gives "
            f"({derived.method} {derived.path}) in {what}"
        ]
    for dep in op.depends_on:
        if dep not in ids or dep == op.id:
            return [f"depends on {dep}, which is not another operation of this plan"]
    if operation_id(op) != op.id:
        return [
            "its id is not the hash of its content (its target, reason, dependencies or origin were changed)"
        ]
    return []


def _request_problems(op: Operation) -> list[str]:
    """The allow-list: method, path shape and parameter keys per action."""
    request = op.request
    action = op.action.value
    method, shape = ENDPOINTS[action]
    path = request.path
    problems = [f"its path {path!r} {why}" for why in _path_hygiene(path)]
    if problems:
        return problems
    if request.method != method or not shape.fullmatch(path):
        return [
            f"its request {request.method} {path} is not the Enrollments call a {action} makes "
            f"({method} {_readable(shape)})"
        ]
    keys = set(request.params)
    extra = sorted(keys - PARAMS[action])
    if extra:
        return [f"its request sends parameters a {action} never sends: {', '.join(extra)}"]
    if action in TASKS and request.params.get("task") != action:
        return [f"its request sends task={request.params.get('task')!r}, but the operation is a {action}"]
    for key, value in request.params.items():
        if not isinstance(value, str) and not (key == ASSOCIATED and isinstance(value, Mapping)):
            return [f"its parameter {key} is not text"]
    if action in POSTS and not USER_REF.match(str(request.params.get("enrollment[user_id]", ""))):
        return ["its request names no user by a Canvas id or SIS ref"]
    return []


def _path_hygiene(path: str) -> list[str]:
    problems = []
    if "?" in path or "#" in path:
        problems.append("holds a query string or fragment (parameters never go in a plan's path)")
    if "//" in path:
        problems.append("holds an empty segment (//)")
    if any(ch in path for ch in "\\ \t\r\n") or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        problems.append("holds a backslash, space or control character")
    seen = path
    for _ in range(3):  # escaped, or escaped twice: %2e%2e, %252e%252e
        if ".." in seen:
            problems.append("holds '..' (a path that could climb out of the Enrollments API)")
            break
        decoded = unquote(seen)
        if decoded == seen:
            break
        seen = decoded
    return problems


def _readable(shape: re.Pattern[str]) -> str:
    return (
        shape.pattern.replace(_ID, ":id")
        .replace(_COURSE_REF, ":course")
        .replace(_SECTION_REF, ":section")
        .replace("(?:courses/:course|sections/:section)", "courses/:course or sections/:section")
    )


def _input_problems(op: Operation) -> list[str]:
    """The content a request is derived from must have the shape the planner writes."""
    action = op.action.value
    before, after, target = op.before, op.after, op.target
    for field, value in (("course", target.course), ("user", target.user), ("role", target.role)):
        if not isinstance(value, str) or not value:
            return [f"target.{field} is not a ref"]
    if action == "enroll":
        if before is not None:
            return ["an enroll acts on no existing enrollment, yet it has a 'before'"]
    elif not isinstance(before, Mapping):
        return [f"a {action} needs the enrollment it acts on ('before')"]
    if not isinstance(after, Mapping):
        return ["it has no 'after'"]
    needed: tuple[str, ...] = ()
    if action in TASKS or action == "reactivate":
        needed = ("id", "course_id")
    elif action == "set_last_attended":
        needed = ("course_id", "user_id")
    elif before is not None:
        needed = ("section_id", "user_id")
    for key in needed:
        assert before is not None
        if not _is_id(before.get(key)):
            return [f"before.{key} is not a Canvas id"]
    if before is not None and not _is_id(before.get("id")):
        return ["before.id is not a Canvas id"]
    if action == "set_last_attended":
        if not _is_date(after.get("last_attended_at")):
            return ["after.last_attended_at is not an ISO 8601 UTC time"]
        return []
    if action not in POSTS:
        return []
    missing = [key for key in POST_AFTER if key not in after]
    if missing:
        return [f"after lacks {', '.join(missing)} (made by an older version? make a new plan)"]
    if after["requested_state"] not in _STATES:
        return ["after.requested_state is not active, invited or inactive"]
    if after["type"] is not None and after["type"] not in BASE_TYPES:
        return ["after.type is not a Canvas enrollment type"]
    for key in ("role_id", "associated_user_id"):
        if after[key] is not None and not _is_id(after[key]):
            return [f"after.{key} is not a Canvas id"]
    for key in ("start_at", "end_at"):
        if after[key] is not None and not _is_date(after[key]):
            return [f"after.{key} is not an ISO 8601 UTC time"]
    for key in ("limit_privileges_to_course_section", "notify"):
        if not isinstance(after[key], bool):
            return [f"after.{key} is not true or false"]
    observes = after["associated_user_id"] is not None or isinstance(
        op.request.params.get(ASSOCIATED), Mapping
    )
    if observes != (target.associated_user is not None):
        return ["its observee (after.associated_user_id) and target.associated_user disagree"]
    return []


def _placeholder(op: Operation, ids: Mapping[str, Operation]) -> tuple[str | None, list[str]]:
    """The operation a placeholder parameter names, checked to be the observee's enroll."""
    value = op.request.params.get(ASSOCIATED)
    if not isinstance(value, Mapping):
        return None, []
    source = value.get("from_operation")
    if set(value) != {"from_operation", "field"} or value.get("field") != "user_id":
        return None, ["its observee placeholder is not {from_operation, field: user_id}"]
    found = ids.get(str(source))
    if (
        found is None
        or source not in op.depends_on
        or found.action.value != "enroll"
        or found.target.course != op.target.course
        or found.target.user != op.target.associated_user
    ):
        return None, [
            f"its observee placeholder names {source}, which is not the enroll of its observee "
            f"{op.target.associated_user} in {op.target.course} that it depends on"
        ]
    return str(source), []


def _move_problems(operations: Sequence[Operation]) -> list[str]:
    halves: dict[str, list[Operation]] = {}
    for op in operations:
        if op.move_id is not None:
            halves.setdefault(op.move_id, []).append(op)
    problems = []
    for move_id, ops in halves.items():
        arrivals = [op for op in ops if op.action in ARRIVAL_ACTIONS]
        drops = [op for op in ops if op.action in DROP_ACTIONS]
        if len(ops) != 2 or len(arrivals) != 1 or len(drops) != 1:
            problems.append(f"move {move_id} is not one arrival and one drop")
            continue
        arrival, drop = arrivals[0], drops[0]
        if arrival.id not in drop.depends_on:
            problems.append(f"move {move_id}: the drop does not wait for its arrival")
        elif move_id != move_id_of(arrival, drop):
            problems.append(f"move {move_id} is not the hash of its two halves")
    return problems


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**19


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and bool(_ISO.match(value))
