"""Terminal view of a plan: Terraform-like, grouped by course and section. Pure.

Symbols: ``+`` enroll, ``~`` restore/reactivate/update/last attended, ``-`` drop,
``>`` move (enroll-new then drop-old). Colour only when asked for; the CLI decides when
(``--color/--no-color``, ``NO_COLOR``, a terminal). Styles are rich's, rendered to the
eight standard ANSI colours so the text is the same on every terminal that shows colour.
"""

from __future__ import annotations

from collections.abc import Callable

from reconcile.plan import Plan
from reconcile.render.common import (
    MOVE,
    claims_line,
    closing_line,
    counted,
    group,
    inventory_line,
    kept_by_canvas,
    not_claimed_line,
)

_COLOURS = {"+": "green", "~": "yellow", "-": "red", MOVE: "cyan"}


def _painter(color: bool) -> Callable[[str, str], str]:
    """``paint(text, style)``: ``text`` in a rich style such as "bold red", or as is."""
    if not color:
        return lambda text, style: text
    from rich.color import ColorSystem
    from rich.style import Style

    def paint(text: str, style: str) -> str:
        return Style.parse(style).render(text, color_system=ColorSystem.STANDARD)

    return paint


def render_text(plan: Plan, *, color: bool = False, max_per_course: int | None = None) -> str:
    """The plan as text for a person. ``max_per_course`` elides the rest of a long course."""
    paint = _painter(color)
    out = [
        f"reconcile plan {plan.plan_id} ({plan.created_at}, source: {plan.source}"
        + (f", {plan.canvas_url}" if plan.canvas_url else "")
        + ")",
        "",
    ]
    grouped = group(plan)
    for course in sorted(set(grouped) | set(plan.unmanaged)):
        out.append(paint(course, "bold"))
        shown = 0
        hidden = 0
        for section, lines in grouped.get(course, {}).items():
            out.append(f"  {section}")
            for line in lines:
                if max_per_course is not None and shown >= max_per_course:
                    hidden += 1
                    continue
                shown += 1
                symbol = paint(line.symbol, _COLOURS[line.symbol])
                out.append(
                    f"    {symbol} {line.action:<17} {line.user}  {line.role}  {line.change}  # {line.reason}"
                )
        if hidden:
            out.append(f"    ... and {counted(hidden, 'more operation')} in this course (see the plan file)")
        if plan.unmanaged.get(course):
            out.append(
                paint(
                    f"  ({counted(plan.unmanaged[course], 'enrollment')} outside manage scope left unchanged)",
                    "dim",
                )
            )
        out.append("")
    tripped = plan.tripped_guards
    if tripped:
        out.append(paint(f"GUARDS TRIPPED ({len(tripped)}): apply will refuse this plan", "bold red"))
        for g in tripped:
            where = f" [{g.course}]" if g.course else ""
            out.append(paint(f"  ! {g.name}{where}: {g.message}", "red"))
        out.append(f"  Override only if intended: reconcile apply {tripped[0].override}")
        out.append("  Or apply everything but the removals and hold those: reconcile apply --hold-drops")
        out.append("")
    kept = kept_by_canvas(plan)
    if kept:
        out.append(kept)
        out.append("")
    if plan.warnings:
        out.append(paint(f"Warnings ({len(plan.warnings)}):", "yellow"))
        out.extend(f"  - {w.code}: {w.message}" for w in plan.warnings)
        out.append("")
    out.append(paint(closing_line(plan), "bold"))
    shown_inventory = inventory_line(plan)
    if shown_inventory:
        out.append(paint(shown_inventory, "dim"))
    unclaimed = not_claimed_line(plan)
    if unclaimed:
        out.append(paint(unclaimed, "dim"))
    claiming = claims_line(plan)
    if claiming:
        out.append(paint(claiming, "dim"))
    return "\n".join(out) + "\n"
