"""Execution order of a plan's operations (DESIGN §7), and placeholder substitution.

Pure: no I/O. Phases run one after another: (0) enroll/restore/reactivate/update,
(1) operations that depend on others (observers of a new student), (2) set last
attended, (3) drops. Inside a phase, an operation waits for its dependencies:
``depends_on``, any operation named by a placeholder in its request, and, for the drop
half of a move, the other half. An operation is never placed in an earlier phase than
something it depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconcile.plan import DROP_ACTIONS, Action, Operation, Request

PHASE_NAMES = ("changes", "dependants", "last_attended", "drops")


class MissingValue(Exception):
    """A placeholder names an operation (or field) whose response is not known."""


def is_placeholder(value: Any) -> bool:
    """True for ``{"from_operation": id, "field": name}`` (plan.py's placeholder form)."""
    return isinstance(value, Mapping) and "from_operation" in value and "field" in value


def placeholder_sources(request: Request) -> set[str]:
    """The operation ids whose responses ``request`` needs."""
    return {str(v["from_operation"]) for v in _walk(request.params) if is_placeholder(v)}


def _walk(value: Any) -> Iterable[Any]:
    yield value
    if isinstance(value, Mapping) and not is_placeholder(value):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)


def substitute(request: Request, responses: Mapping[str, Mapping[str, Any]]) -> Request:
    """``request`` with every placeholder replaced by the named field of that operation's response.

    Raises :class:`MissingValue` when the operation has no recorded response or the
    response lacks the field; never sends a placeholder dict to Canvas.
    """

    def fill(value: Any) -> Any:
        if is_placeholder(value):
            source, name = str(value["from_operation"]), str(value["field"])
            response = responses.get(source)
            if response is None:
                raise MissingValue(f"no recorded response of operation {source}")
            if response.get(name) is None:
                raise MissingValue(f"the response of operation {source} has no {name}")
            return response[name]
        if isinstance(value, Mapping):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    if not placeholder_sources(request):
        return request
    return replace(request, params=fill(request.params))


def base_phase(operation: Operation) -> int:
    """The phase an operation belongs to by its action alone."""
    if operation.action in DROP_ACTIONS:
        return 3
    if operation.action is Action.SET_LAST_ATTENDED:
        return 2
    return 1 if operation.depends_on or placeholder_sources(operation.request) else 0


def dependencies(operations: Iterable[Operation]) -> dict[str, frozenset[str]]:
    """Every operation's full set of dependencies (explicit, placeholders, move halves)."""
    ops = list(operations)
    move_firsts: dict[str, set[str]] = {}
    for op in ops:
        if op.move_id and op.action not in DROP_ACTIONS:
            move_firsts.setdefault(op.move_id, set()).add(op.id)
    out: dict[str, frozenset[str]] = {}
    for op in ops:
        deps = set(op.depends_on) | placeholder_sources(op.request)
        if op.move_id and op.action in DROP_ACTIONS:
            # The drop half of a move must never run before its enroll half succeeded.
            deps |= move_firsts.get(op.move_id, set())
        deps.discard(op.id)
        out[op.id] = frozenset(deps)
    return out


@dataclass(frozen=True)
class Schedule:
    """Operations grouped in phases, each in plan order, with their dependencies."""

    phases: tuple[tuple[Operation, ...], ...]
    depends: Mapping[str, frozenset[str]]
    unknown: Mapping[str, frozenset[str]]  # op id -> dependencies not in the plan

    def __len__(self) -> int:
        return sum(len(p) for p in self.phases)


def schedule(operations: Iterable[Operation]) -> Schedule:
    """Place each operation in its phase, raised to the latest phase of its dependencies.

    Dependency cycles are not resolved here; the executor skips what never becomes ready.
    """
    ops = list(operations)
    by_id = {op.id: op for op in ops}
    depends = dependencies(ops)
    unknown = {op_id: frozenset(d for d in deps if d not in by_id) for op_id, deps in depends.items()}
    phase: dict[str, int] = {}

    def phase_of(op_id: str, trail: frozenset[str] = frozenset()) -> int:
        if op_id in phase:
            return phase[op_id]
        own = base_phase(by_id[op_id])
        for dep in depends[op_id]:
            if dep in by_id and dep not in trail:  # a cycle is left for the executor to report
                own = max(own, phase_of(dep, trail | {op_id}))
        phase[op_id] = own
        return own

    for op in ops:
        phase_of(op.id)
    phases = tuple(tuple(op for op in ops if phase[op.id] == n) for n in range(len(PHASE_NAMES)))
    return Schedule(
        phases=phases,
        depends=depends,
        unknown={k: v for k, v in unknown.items() if v},
    )
