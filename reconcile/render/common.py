"""What the text and Markdown views share: grouping, symbols, one-line change descriptions. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from reconcile.plan import DROP_ACTIONS, Action, Operation, Plan

SYMBOLS = {
    Action.ENROLL: "+",
    Action.RESTORE: "~",
    Action.REACTIVATE: "~",
    Action.UPDATE: "~",
    Action.SET_LAST_ATTENDED: "~",
    Action.INACTIVATE: "-",
    Action.CONCLUDE: "-",
    Action.DELETE: "-",
}
MOVE = ">"
DEFAULT_SECTION = "(default section)"


@dataclass(frozen=True)
class Line:
    """One rendered entry: a single operation, or the two halves of a move."""

    symbol: str
    action: str
    user: str
    role: str
    change: str
    reason: str
    operations: tuple[Operation, ...]


def group(plan: Plan) -> dict[str, dict[str, list[Line]]]:
    """course -> section -> lines, in plan order; a move is listed once, under its new section."""
    by_move: dict[str, list[Operation]] = defaultdict(list)
    for op in plan.operations:
        if op.move_id:
            by_move[op.move_id].append(op)
    courses: dict[str, dict[str, list[Line]]] = {}
    seen_moves: set[str] = set()
    for op in plan.operations:
        if op.move_id:
            if op.move_id in seen_moves:
                continue
            seen_moves.add(op.move_id)
            halves = by_move[op.move_id]
            arrival = next((o for o in halves if o.action not in DROP_ACTIONS), op)
            departure = next((o for o in halves if o.action in DROP_ACTIONS), op)
            line = Line(
                symbol=MOVE,
                action="move",
                user=arrival.target.user,
                role=arrival.target.role,
                change=_move_change(arrival, departure),
                reason=arrival.reason,
                operations=(arrival, departure),
            )
            section = arrival.target.section or DEFAULT_SECTION
        else:
            line = Line(
                symbol=SYMBOLS[op.action],
                action=op.action.value,
                user=op.target.user,
                role=op.target.role,
                change=describe(op),
                reason=op.reason,
                operations=(op,),
            )
            section = op.target.section or DEFAULT_SECTION
        courses.setdefault(op.target.course, {}).setdefault(section, []).append(line)
    return courses


def describe(op: Operation) -> str:
    """A short "before -> after" for one operation (and the linked observers Canvas mirrors it onto)."""
    return _describe(op) + _mirrored(op)


def kept_by_canvas(plan: Plan) -> str | None:
    """The sentence on observer rows Canvas keeps from observer links, when there are any."""
    count = plan.summary.get("observers_kept_by_canvas", 0)
    if not count:
        return None
    return (
        f"{counted(count, 'observer enrollment')} kept in step by Canvas from observer links "
        "(Canvas's, never changed by this tool)."
    )


def _describe(op: Operation) -> str:
    before, after = op.before or {}, op.after or {}
    if op.action is Action.ENROLL:
        extra = f", observing {op.target.associated_user}" if op.target.associated_user else ""
        return f"new, {after.get('state')}{extra}"
    if op.action is Action.SET_LAST_ATTENDED:
        return f"last_attended_at {_day(before.get('last_attended_at'))} -> {_day(after.get('last_attended_at'))}"
    if op.action is Action.UPDATE:
        changed = [
            f"{name} {_day(before.get(name))} -> {_day(after.get(name))}"
            for name in ("start_at", "end_at", "limit_privileges_to_course_section")
            if before.get(name) != after.get(name)
        ]
        return "; ".join(changed) or "attributes"
    return f"{before.get('state')} -> {after.get('state')}"


def _move_change(arrival: Operation, departure: Operation) -> str:
    if arrival.target.role != departure.target.role:
        what = f"role {departure.target.role} -> {arrival.target.role}"
    else:
        what = f"section {departure.target.section or DEFAULT_SECTION} -> {arrival.target.section or DEFAULT_SECTION}"
    return f"{what} ({arrival.action.value}, then {departure.action.value} the old one){_mirrored(arrival)}"


def _mirrored(op: Operation) -> str:
    observers = (op.after or {}).get("linked_observers")
    return f"; Canvas mirrors it onto {counted(len(observers), 'linked observer')}" if observers else ""


def _day(value: object) -> str:
    if value is None:
        return "none"
    text = str(value)
    return text[:-10] if text.endswith("T00:00:00Z") else text


def closing_line(plan: Plan) -> str:
    """ "Plan: N to enroll, M to change, K to drop (of which ...)." or the in-sync sentence."""
    if not plan.operations:
        return "No changes. Canvas is in sync with the roster."
    s = plan.summary
    notes = []
    absent = s.get("drops_absent_from_roster", 0)
    if s.get("to_drop"):
        notes.append(f"{absent} absent from the roster")
    if s.get("moves"):
        notes.append(f"{s['moves']} {'move' if s['moves'] == 1 else 'moves'}")
    tail = f" (of which {', '.join(notes)})" if notes else ""
    return f"Plan: {s['to_enroll']} to enroll, {s['to_change']} to change, {s['to_drop']} to drop{tail}."


def inventory_line(plan: Plan) -> str | None:
    """Where a report-inventory plan's state came from, and what each phase cost."""
    inventory = plan.policy.get("inventory") or {}
    if inventory.get("source") != "report":
        return None
    requests = inventory.get("requests") or {}
    return (
        f"Inventory: provisioning report {inventory.get('report_id')}; "
        f"{counted(int(inventory.get('courses_in_sync_by_report', 0)), 'course')} in sync by the report, "
        f"{counted(int(inventory.get('courses_confirmed', 0)), 'course')} fetched one by one "
        f"(requests: {int(requests.get('course_list', 0)) + int(requests.get('report', 0))} for the "
        f"inventory, {int(requests.get('confirm', 0))} to confirm)."
    )


def not_claimed_line(plan: Plan) -> str | None:
    """ "4 enrollments not claimed by this tool left unchanged ..." for a ``claimed`` plan that left some."""
    n = plan.summary.get("not_claimed", 0)
    if not n:
        return None
    return (
        f"{counted(n, 'enrollment')} not claimed by this tool left unchanged "
        "(manage.ownership: claimed; `reconcile claim` takes existing enrollments over)."
    )


def claims_line(plan: Plan) -> str | None:
    """ "Applying it also claims N enrollments ..." when the plan lists matches not claimed yet."""
    new = (plan.claims or {}).get("new") or {}
    n = sum(len(ids) for ids in new.values())
    if not n:
        return None
    return (
        f"Applying it also claims {counted(n, 'enrollment')} the roster matched that this tool had not claimed "
        f"yet (claim set: {(plan.claims or {}).get('count', 0)})."
    )


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``counted(1, "enrollment")`` -> "1 enrollment"; ``counted(2, ...)`` -> "2 enrollments"."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def request_figures(*, requests: int, retried: int, throttled: int, seconds: float) -> str:
    """The one line of request figures that ``plan``, ``apply`` and ``export`` end with:
    "Requests: 14 (1 retried, 0 throttled) in 0.3 s"."""
    return f"Requests: {requests} ({retried} retried, {throttled} throttled) in {seconds:.1f} s"


def retry_notice(*, retried: int, throttled: int, waited: float) -> str | None:
    """One line saying that retries or throttling stretched a run, or None when they did not."""
    if not (retried or throttled) or waited <= 0:
        return None
    parts = []
    if throttled:
        parts.append(f"Canvas throttled {counted(throttled, 'request')}")
    errors = retried - throttled  # a throttled answer is retried too
    if errors == 1:
        parts.append("1 request was retried after an error")
    elif errors > 1:
        parts.append(f"{errors} requests were retried after errors")
    return f"Note: {' and '.join(parts)}; waiting added {waited:.1f} s. Run with -v to see each retry."
