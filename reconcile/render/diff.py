"""What differs between a reviewed plan and the plan ``apply --refresh`` made in its place. Pure.

Operations are paired by what they do to whom (action and target): a pair whose content
hash differs is *changed* (a new state, new dates, another enrollment id), one only in the
refreshed plan is *added*, one only in the reviewed plan is *removed*. Guards are compared by
name and course.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconcile.plan import Operation, Plan, Target
from reconcile.render.common import SYMBOLS, counted, describe

Key = tuple[str, Target]


@dataclass(frozen=True)
class PlanDifference:
    added: tuple[Operation, ...]
    removed: tuple[Operation, ...]
    changed: tuple[tuple[Operation, Operation], ...]  # (reviewed, refreshed)
    guards_tripped_now: tuple[str, ...]  # tripped in the refreshed plan only
    guards_cleared: tuple[str, ...]  # tripped in the reviewed plan only

    @property
    def same(self) -> bool:
        """Nothing a reviewer saw would be different."""
        return not (
            self.added or self.removed or self.changed or self.guards_tripped_now or self.guards_cleared
        )


def compare_plans(reviewed: Plan, refreshed: Plan) -> PlanDifference:
    """The difference between the two plans' operations and tripped guards."""
    before = {_key(op): op for op in reviewed.operations}
    after = {_key(op): op for op in refreshed.operations}
    then = {_guard(g.name, g.course) for g in reviewed.tripped_guards}
    now = {_guard(g.name, g.course) for g in refreshed.tripped_guards}
    return PlanDifference(
        added=tuple(op for key, op in after.items() if key not in before),
        removed=tuple(op for key, op in before.items() if key not in after),
        changed=tuple(
            (before[key], op) for key, op in after.items() if key in before and before[key].id != op.id
        ),
        guards_tripped_now=tuple(sorted(now - then)),
        guards_cleared=tuple(sorted(then - now)),
    )


def difference_text(difference: PlanDifference, *, limit: int = 50) -> str:
    """The difference for a person deciding whether to approve the refreshed plan."""
    if difference.same:
        return "The refreshed plan makes the same operations as the reviewed one."
    lines = [
        "Compared with the reviewed plan: "
        + ", ".join(
            (
                f"{counted(len(difference.added), 'operation')} added",
                f"{len(difference.removed)} removed",
                f"{len(difference.changed)} changed",
            )
        )
    ]
    for word, ops in (("added", difference.added), ("removed", difference.removed)):
        for op in ops[:limit]:
            lines.append(f"  {word:<8} {SYMBOLS[op.action]} {_line(op)}: {describe(op)}")
        if len(ops) > limit:
            lines.append(f"  ... and {len(ops) - limit} more {word}")
    for old, new in difference.changed[:limit]:
        lines.append(f"  changed  {_line(new)}: was {describe(old)}, now {describe(new)}")
    if len(difference.changed) > limit:
        lines.append(f"  ... and {len(difference.changed) - limit} more changed")
    if difference.guards_tripped_now:
        lines.append("  guards tripped now: " + ", ".join(difference.guards_tripped_now))
    if difference.guards_cleared:
        lines.append("  guards no longer tripped: " + ", ".join(difference.guards_cleared))
    return "\n".join(lines)


def _key(op: Operation) -> Key:
    return (op.action.value, op.target)


def _guard(name: str, course: str | None) -> str:
    return f"{name} [{course}]" if course else name


def _line(op: Operation) -> str:
    t = op.target
    section = f" section {t.section}" if t.section else ""
    return f"{op.action.value} {t.user} ({t.role}) in {t.course}{section}"
