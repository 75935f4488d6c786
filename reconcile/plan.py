"""The plan document (DESIGN §7): what ``plan`` produces and ``apply`` executes.

Frozen values in memory; ``format_version: 1`` JSON on the wire, described by
``schemas/plan.schema.json``. Pure: no I/O.

An operation's :class:`Request` is the exact API call apply will make. ``params`` uses
Rails-style flat keys (``"enrollment[user_id]"``). A parameter whose value is only known
after another operation ran (an observer's ``enrollment[associated_user_id]`` when the
observee is newly enrolled) is written as ``{"from_operation": "<op id>", "field":
"user_id"}``; apply substitutes that field of the other operation's Canvas response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    policy: dict[str, Any]  # the effective config sections that shaped the plan
    fingerprints: dict[str, str]  # course ref -> hash of its fetched enrollments
    operations: tuple[Operation, ...]
    summary: dict[str, int]  # count per action
    guards: tuple[GuardResult, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    unmanaged: dict[str, int] = field(default_factory=dict)  # course ref -> untouched rows
    source: str = "live"  # live | snapshot:<path>
    format_version: int = FORMAT_VERSION

    @property
    def tripped_guards(self) -> tuple[GuardResult, ...]:
        return tuple(g for g in self.guards if g.tripped)
