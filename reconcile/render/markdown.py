"""Markdown summary of a plan for CI job pages and pull-request comments. Pure."""

from __future__ import annotations

from reconcile.plan import Plan
from reconcile.render.common import (
    claims_line,
    closing_line,
    counted,
    group,
    inventory_line,
    kept_by_canvas,
    not_claimed_line,
)

COUNTS = (
    ("to enroll", "to_enroll"),
    ("to change", "to_change"),
    ("to drop", "to_drop"),
    ("moves", "moves"),
    ("drops absent from the roster", "drops_absent_from_roster"),
)


def render_markdown(plan: Plan, *, max_per_course: int = 50) -> str:
    """Counts table, guards, warnings, then per course a collapsed table of its first operations."""
    out = [f"### reconcile plan `{plan.plan_id}`", ""]
    out.append(
        f"Created {plan.created_at} from {plan.source}"
        + (f" ({plan.canvas_url})" if plan.canvas_url else "")
        + "."
    )
    out.append("")
    out.append(f"**{closing_line(plan)}**")
    out.append("")
    shown_inventory = inventory_line(plan)
    if shown_inventory:
        out += [shown_inventory, ""]
    unclaimed = not_claimed_line(plan)
    if unclaimed:
        out += [unclaimed, ""]
    claiming = claims_line(plan)
    if claiming:
        out += [claiming, ""]
    out += ["| | count |", "|---|---:|"]
    out += [f"| {label} | {plan.summary.get(key, 0)} |" for label, key in COUNTS]
    out.append("")
    tripped = plan.tripped_guards
    if tripped:
        out.append(
            f"> [!CAUTION]\n> **{len(tripped)} guard(s) tripped**: apply refuses this plan without `{tripped[0].override}` "
            "(`--hold-drops` applies everything but the removals)."
        )
        for g in tripped:
            out.append(f"> - `{g.name}`{f' ({_cell(g.course)})' if g.course else ''}: {_cell(g.message)}")
        out.append("")
    else:
        out.append("Guards: none tripped.")
        out.append("")
    kept = kept_by_canvas(plan)
    if kept:
        out += [kept, ""]
    if plan.warnings:
        out.append(f"<details><summary>{len(plan.warnings)} warning(s)</summary>\n")
        out += [f"- `{w.code}`: {_cell(w.message)}" for w in plan.warnings]
        out.append("\n</details>\n")
    for course, sections in group(plan).items():
        lines = [(section, line) for section, items in sections.items() for line in items]
        count = sum(len(line.operations) for _, line in lines)
        out.append(f"<details><summary>{_cell(course)}: {counted(count, 'operation')}</summary>\n")
        out += ["| | action | user | role | section | change | reason |", "|---|---|---|---|---|---|---|"]
        for section, line in lines[:max_per_course]:
            out.append(
                f"| `{line.symbol}` | {line.action} | {_cell(line.user)} | {_cell(line.role)} | {_cell(section)} "
                f"| {_cell(line.change)} | {line.reason} |"
            )
        if len(lines) > max_per_course:
            out.append(f"\n... and {len(lines) - max_per_course} more (see the plan file).")
        out.append("\n</details>\n")
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
