"""The plan document (DESIGN §7): what ``plan`` produces and ``apply`` executes.

Frozen values in memory; ``format_version: 1`` JSON on the wire, described by
``schemas/plan.schema.json``. Pure: no I/O (reading and writing files is
:mod:`reconcile.pipeline`'s job).

An operation's :class:`Request` is the exact API call apply will make. ``params`` uses
Rails-style flat keys (``"enrollment[user_id]"``) with string values. A parameter whose
value is only known after another operation ran (an observer's
``enrollment[associated_user_id]`` when the observee is newly enrolled) is written as
``{"from_operation": "<op id>", "field": "user_id"}``; apply substitutes that field of
the other operation's Canvas response (the operation is also listed in ``depends_on``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

FORMAT_VERSION = 1


class Action(str, Enum):
    ENROLL = "enroll"  # POST, no current row
    RESTORE = "restore"  # POST upsert reviving invited/pending/completed/deleted/rejected
    REACTIVATE = "reactivate"  # PUT .../reactivate, from inactive only
    UPDATE = "update"  # POST upsert changing managed attributes
    INACTIVATE = "inactivate"  # DELETE task=inactivate
    CONCLUDE = "conclude"  # DELETE task=conclude
    DELETE = "delete"  # DELETE task=delete
    SET_LAST_ATTENDED = "set_last_attended"  # PUT /courses/:c/users/:u/last_attended


DROP_ACTIONS = frozenset({Action.INACTIVATE, Action.CONCLUDE, Action.DELETE})
ARRIVAL_ACTIONS = frozenset({Action.ENROLL, Action.RESTORE, Action.REACTIVATE})
# States in which an enrollment still counts: removing it from one of these is a *removal*.
LIVE_STATES = frozenset({"active", "invited", "creation_pending", "inactive"})
CHANGE_ACTIONS = frozenset({Action.RESTORE, Action.REACTIVATE, Action.UPDATE, Action.SET_LAST_ATTENDED})

# Reason codes an operation can carry.
REASONS = (
    "missing_in_canvas",
    "state_differs",
    "attributes_differ",
    "absent_from_roster",
    "moved_section",
    "role_changed",
    "last_attended_differs",
)


class PlanFormatError(ValueError):
    """A plan document that is not valid JSON, fails the schema, or has an unknown format_version."""


@dataclass(frozen=True)
class Target:
    course: str  # course ref
    section: str | None  # section ref, None = course default / any
    user: str  # user ref
    role: str  # Canvas role name
    associated_user: str | None = None  # observee ref


@dataclass(frozen=True)
class Request:
    method: str  # GET | POST | PUT | DELETE
    path: str  # e.g. /api/v1/courses/sis_course_id:MATH101/enrollments (escaped)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    id: str  # deterministic: hash of the operation's content
    action: Action
    target: Target
    request: Request
    reason: str  # missing_in_canvas, state_differs, attributes_differ, absent_from_roster, ...
    before: dict[str, Any] | None = None  # current enrollment: id, state, managed attributes
    after: dict[str, Any] | None = None  # expected state and attributes after the request
    depends_on: tuple[str, ...] = ()  # operation ids that must succeed first
    move_id: str | None = None  # shared by the enroll and drop halves of a move
    origin: tuple[str, ...] = ()  # "file:row" of the roster rows behind it
    detail: str = ""  # one human sentence: why this action and not a neighbouring one


def is_removal(op: Operation) -> bool:
    """Whether the guards count ``op`` as a removal (DESIGN §6): a conclude, inactivate or
    delete of a live enrollment, whatever the reason (absent from the roster, or a status the
    roster states). The drop half of a move is not one: its enroll half replaces it.

    Computed from the operation's own content (action, ``before``, ``move_id``), so apply
    decides what ``--hold-drops`` holds from the reviewed document alone."""
    return (
        op.action in DROP_ACTIONS
        and op.move_id is None
        and op.before is not None
        and op.before.get("state") in LIVE_STATES
    )


@dataclass(frozen=True)
class GuardResult:
    name: str  # empty_roster | course_emptied | max_drop_percent | max_drops | protected_roles
    tripped: bool
    course: str | None = None  # None for plan-wide guards
    figures: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    override: str = "--allow-drops"


@dataclass(frozen=True)
class PlanWarning:
    code: str  # cannot_demote, ...
    message: str
    course: str | None = None
    user: str | None = None
    origin: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    plan_id: str
    created_at: str  # ISO 8601 UTC
    tool_version: str
    canvas_url: str | None  # never the token
    inputs: tuple[dict[str, Any], ...]  # {path, format, sha256, rows}
    policy: dict[str, Any]  # the effective config sections that shaped the plan, and the scope
    fingerprints: dict[str, str]  # course ref -> hash of its fetched enrollments
    operations: tuple[Operation, ...]
    summary: dict[str, int]  # count per action, plus to_enroll/to_change/to_drop/moves
    guards: tuple[GuardResult, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    unmanaged: dict[str, int] = field(default_factory=dict)  # course ref -> untouched rows
    source: str = "live"  # live | snapshot:<path>
    format_version: int = FORMAT_VERSION
    signature: str | None = None  # "hmac-sha256:<hex>" over canonical_bytes, when signed
    # The claim set the plan used: digest, count, and the enrollments its roster rows matched
    # that are not claimed yet (apply claims them); None when no claim set was given.
    claims: dict[str, Any] | None = None

    @property
    def tripped_guards(self) -> tuple[GuardResult, ...]:
        return tuple(g for g in self.guards if g.tripped)

    @property
    def has_changes(self) -> bool:
        return bool(self.operations)


# --- JSON ---------------------------------------------------------------------------------


def operation_to_dict(op: Operation) -> dict[str, Any]:
    """The wire form of one operation (also what its id is hashed over, minus ``id``)."""
    return {
        "id": op.id,
        "action": op.action.value,
        "target": {
            "course": op.target.course,
            "section": op.target.section,
            "user": op.target.user,
            "role": op.target.role,
            "associated_user": op.target.associated_user,
        },
        "request": {"method": op.request.method, "path": op.request.path, "params": op.request.params},
        "reason": op.reason,
        "detail": op.detail,
        "before": op.before,
        "after": op.after,
        "depends_on": list(op.depends_on),
        "move_id": op.move_id,
        "origin": list(op.origin),
    }


def plan_to_dict(plan: Plan, *, include_id: bool = True) -> dict[str, Any]:
    """The plan as plain JSON-ready data, in the schema's field order."""
    data: dict[str, Any] = {
        "format_version": plan.format_version,
        "plan_id": plan.plan_id,
        "created_at": plan.created_at,
        "tool_version": plan.tool_version,
        "canvas_url": plan.canvas_url,
        "source": plan.source,
        "inputs": [dict(sorted(i.items())) for i in plan.inputs],
        "policy": plan.policy,
        "fingerprints": dict(sorted(plan.fingerprints.items())),
        "summary": plan.summary,
        "unmanaged": dict(sorted(plan.unmanaged.items())),
        "guards": [
            {
                "name": g.name,
                "tripped": g.tripped,
                "course": g.course,
                "figures": g.figures,
                "message": g.message,
                "override": g.override,
            }
            for g in plan.guards
        ],
        "warnings": [
            {
                "code": w.code,
                "message": w.message,
                "course": w.course,
                "user": w.user,
                "origin": list(w.origin),
            }
            for w in plan.warnings
        ],
        "operations": [operation_to_dict(op) for op in plan.operations],
    }
    if plan.signature is not None:
        data["signature"] = plan.signature
    if plan.claims is not None:
        data["claims"] = plan.claims
    if not include_id:
        del data["plan_id"]
    return data


def plan_to_json(plan: Plan) -> str:
    """Deterministic JSON text of ``plan``: same plan, same bytes (operations keep plan order)."""
    return json.dumps(plan_to_dict(plan), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def plan_from_json(text: str) -> Plan:
    """Parse and validate a plan document.

    Raises :class:`PlanFormatError` for text that is not JSON, a ``format_version`` this
    version of the tool does not know (checked first, so a newer plan gets a clear
    message rather than a schema complaint), or a document failing the schema.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFormatError(f"not a plan file: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise PlanFormatError("not a plan file: expected a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFormatError(
            f"plan format_version {version!r} is not supported by this version of reconcile "
            f"(it reads format_version {FORMAT_VERSION}); re-run `reconcile plan` with this version"
        )
    _validate(data)
    return plan_from_dict(data)


def _validate(data: dict[str, Any]) -> None:
    import jsonschema

    from reconcile import schemas

    validator = jsonschema.Draft202012Validator(schemas.load("plan"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise PlanFormatError(f"plan file does not match the plan schema at {where}: {first.message}{more}")


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Build a :class:`Plan` from already-validated wire data."""
    return Plan(
        plan_id=data["plan_id"],
        created_at=data["created_at"],
        tool_version=data["tool_version"],
        canvas_url=data.get("canvas_url"),
        inputs=tuple(dict(i) for i in data.get("inputs", ())),
        policy=data.get("policy", {}),
        fingerprints=dict(data.get("fingerprints", {})),
        operations=tuple(_operation_from_dict(o) for o in data.get("operations", ())),
        summary=dict(data.get("summary", {})),
        guards=tuple(
            GuardResult(
                name=g["name"],
                tripped=g["tripped"],
                course=g.get("course"),
                figures=g.get("figures", {}),
                message=g.get("message", ""),
                override=g.get("override", "--allow-drops"),
            )
            for g in data.get("guards", ())
        ),
        warnings=tuple(
            PlanWarning(
                code=w["code"],
                message=w["message"],
                course=w.get("course"),
                user=w.get("user"),
                origin=tuple(w.get("origin", ())),
            )
            for w in data.get("warnings", ())
        ),
        unmanaged=dict(data.get("unmanaged", {})),
        source=data.get("source", "live"),
        format_version=data["format_version"],
        signature=data.get("signature"),
        claims=data.get("claims"),
    )


# --- signatures ---------------------------------------------------------------------------

SIGNATURE_SCHEME = "hmac-sha256"


def canonical_bytes(plan: Plan) -> bytes:
    """The plan's content as one byte string, the signature left out: sorted keys, no
    insignificant whitespace, UTF-8. The same plan gives the same bytes however its file
    was indented, so a signature survives re-formatting but no change of content."""
    data = plan_to_dict(replace(plan, signature=None))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_plan(plan: Plan, key: bytes) -> Plan:
    """``plan`` carrying an HMAC-SHA256 of its canonical bytes under ``key``.

    Only the MAC goes into the document; the key never does. Anyone holding the key can
    tell that the plan is, byte for byte in content, the one that was signed."""
    if not key:
        raise ValueError("the signing key is empty")
    mac = hmac.new(key, canonical_bytes(plan), hashlib.sha256).hexdigest()
    return replace(plan, signature=f"{SIGNATURE_SCHEME}:{mac}")


def signature_valid(plan: Plan, key: bytes) -> bool:
    """True when ``plan`` is signed and its signature is the one ``key`` gives its content
    (compared in constant time)."""
    if not plan.signature or not key:
        return False
    scheme, _, given = plan.signature.partition(":")
    if scheme != SIGNATURE_SCHEME:
        return False
    expected = hmac.new(key, canonical_bytes(plan), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


def _operation_from_dict(data: dict[str, Any]) -> Operation:
    target = data["target"]
    request = data["request"]
    return Operation(
        id=data["id"],
        action=Action(data["action"]),
        target=Target(
            course=target["course"],
            section=target.get("section"),
            user=target["user"],
            role=target["role"],
            associated_user=target.get("associated_user"),
        ),
        request=Request(
            method=request["method"], path=request["path"], params=dict(request.get("params", {}))
        ),
        reason=data["reason"],
        before=data.get("before"),
        after=data.get("after"),
        depends_on=tuple(data.get("depends_on", ())),
        move_id=data.get("move_id"),
        origin=tuple(data.get("origin", ())),
        detail=data.get("detail", ""),
    )
