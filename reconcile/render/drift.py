"""Views of a drift report (:mod:`reconcile.drift`): text for people, Markdown for CI pages. Pure."""

from __future__ import annotations

from typing import Any

from reconcile.drift import DriftItem, DriftReport
from reconcile.render.common import DEFAULT_SECTION, counted

SYMBOLS = {"changed": "~", "disappeared": "-", "appeared": "+"}
_COLOURS = {"~": "33", "-": "31", "+": "32"}


def _show(value: Any) -> str:
    if value is None:
        return "none"
    text = str(value)
    return text[:-10] if text.endswith("T00:00:00Z") else text


def describe(item: DriftItem) -> str:
    """What drifted, in a few words."""
    if item.kind == "changed":
        return "; ".join(f"{name} {_show(a)} -> {_show(b)}" for name, (a, b) in item.changes.items())
    if item.kind == "disappeared":
        return "claimed, no longer listed in the course"
    return f"{item.state}, not claimed by this tool"


def when(item: DriftItem) -> str:
    """Who/when as far as Canvas tells, and when the tool last left it."""
    parts = []
    if item.kind == "appeared" and item.created_at:
        parts.append(f"created {item.created_at}")
    if item.updated_at and item.kind != "disappeared":
        parts.append(f"changed in Canvas {item.updated_at}")
    if item.left_at:
        parts.append(f"the tool left it {item.left_at}" + (f" (run {item.left_by})" if item.left_by else ""))
    return ", ".join(parts)


def summary_line(report: DriftReport) -> str:
    counts = report.counts()
    if not report.drifted:
        return (
            f"No drift: {counted(report.claimed, 'claimed enrollment')} in "
            f"{counted(len(report.courses), 'course')} are as the tool left them."
        )
    parts = [
        f"{counts['changed']} changed",
        f"{counts['disappeared']} disappeared",
        f"{counts['appeared']} appeared",
    ]
    return f"Drift: {counted(len(report.items), 'enrollment')} differ from what the tool left ({', '.join(parts)})."


def _notes(report: DriftReport) -> list[str]:
    notes = []
    if report.unknown:
        notes.append(
            f"{counted(report.unknown, 'claimed enrollment')} not compared: the journal has no record of what "
            "the tool left there."
        )
    if report.unseen_courses:
        notes.append(
            "Never read by the tool, so enrollments added there by hand cannot be told apart: "
            + ", ".join(report.unseen_courses)
            + "."
        )
    if report.planned_with:
        notes.append(f"Next plan made from {', '.join(report.planned_with)}.")
    return notes


def render_drift_text(report: DriftReport, *, color: bool = False) -> str:
    """The report as text, grouped by course."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    out = [
        f"reconcile drift ({report.canvas_url or 'Canvas'}): {counted(report.claimed, 'claimed enrollment')} "
        f"in {counted(len(report.courses), 'course')} checked",
        "",
    ]
    by_course: dict[str, list[DriftItem]] = {}
    for item in report.items:
        by_course.setdefault(item.course, []).append(item)
    for course, items in by_course.items():
        out.append(paint(course, "1"))
        for item in items:
            symbol = SYMBOLS[item.kind]
            section = item.section or DEFAULT_SECTION
            out.append(
                f"  {paint(symbol, _COLOURS[symbol])} {item.kind:<11} {item.user}  {item.role}  {section}  "
                f"{describe(item)}  (enrollment {item.enrollment_id})"
            )
            if when(item):
                out.append(f"      {when(item)}")
            out.append(f"      next plan: {item.next_plan}")
        out.append("")
    out += _notes(report)
    if _notes(report):
        out.append("")
    out.append(paint(summary_line(report), "1"))
    return "\n".join(out) + "\n"


def render_drift_markdown(report: DriftReport) -> str:
    """The report as Markdown: a counts line and one table of items."""
    out = [f"### reconcile drift ({report.canvas_url or 'Canvas'})", "", f"**{summary_line(report)}**", ""]
    if report.items:
        out += [
            "| | kind | course | user | role | section | what | when | next plan |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for item in report.items:
            out.append(
                f"| `{SYMBOLS[item.kind]}` | {item.kind} | {_cell(item.course)} | {_cell(item.user)} | "
                f"{_cell(item.role)} | {_cell(item.section or DEFAULT_SECTION)} | {_cell(describe(item))} | "
                f"{_cell(when(item))} | {_cell(item.next_plan)} |"
            )
        out.append("")
    out += [f"- {note}" for note in _notes(report)]
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
