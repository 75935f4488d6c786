"""Views of a plan: text for people, Markdown for CI pages, JSON for machines. Pure functions."""

from __future__ import annotations

from reconcile.plan import Plan, plan_to_json
from reconcile.render.markdown import render_markdown
from reconcile.render.text import render_text

FORMATS = ("text", "markdown", "json")


def render(plan: Plan, output: str = "text", *, color: bool = False) -> str:
    """``plan`` in one of :data:`FORMATS`."""
    if output == "text":
        return render_text(plan, color=color)
    if output == "markdown":
        return render_markdown(plan)
    if output == "json":
        return plan_to_json(plan)
    raise ValueError(f"unknown output format {output!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text"]


def render_json(plan: Plan) -> str:
    """The plan document itself (schemas/plan.schema.json)."""
    return plan_to_json(plan)
