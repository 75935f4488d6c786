"""Golden files for the three renderings, plus the behaviours a golden file cannot show.

Regenerate after an intended change with ``RECONCILE_UPDATE_GOLDEN=1 pytest tests/render``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconcile.plan import Plan, plan_from_json
from reconcile.render import render, render_markdown, render_text
from tests.planner.factory import config, have, plan_of, want

GOLDEN = Path(__file__).resolve().parent.parent / "planner" / "golden"


def busy_plan() -> Plan:
    """A plan with every symbol, a tripped guard, warnings and unmanaged rows."""
    cfg = config(roles=("StudentEnrollment", "TeacherEnrollment", "ObserverEnrollment"))
    desired = [
        want("s1"),
        want("s2", section="sis_section_id:MATH101-02"),
        want("s4", status="invited"),
        want("s5", dates_managed=True, start_at="2026-09-01T00:00:00Z", end_at="2026-12-20T00:00:00Z"),
        want("s6", status="inactive"),
        want("s7", last_attended_managed=True, last_attended_at="2026-09-14T00:00:00Z"),
        want("p1", role="ObserverEnrollment", associated_user="sis_user_id:s8"),
        want("s8"),
    ]
    current = [
        have("s1", state="deleted"),
        have("s2"),
        have("s4"),
        have("s5", start_at="2026-09-01T00:00:00Z", end_at="2026-12-13T00:00:00Z"),
        have("s6"),
        have("s7"),
        have("t1", role="TeacherEnrollment"),
        have("d1", role="DesignerEnrollment"),
    ]
    return plan_of(
        desired, current, cfg=cfg, canvas_url="https://canvas.example.edu", source="snapshot:current.json"
    )


CASES = {
    "busy.txt": lambda: render_text(busy_plan()),
    "busy.ansi.txt": lambda: render_text(busy_plan(), color=True),
    "busy.md": lambda: render_markdown(busy_plan()),
    "busy.json": lambda: render(busy_plan(), "json"),
    "in_sync.txt": lambda: render_text(plan_of([want("s1")], [have("s1")])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_matches_golden_file(name: str) -> None:
    text = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("RECONCILE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_golden_json_is_a_valid_plan_document() -> None:
    plan = plan_from_json((GOLDEN / "busy.json").read_text(encoding="utf-8"))
    assert plan == busy_plan()


def test_text_has_closing_line_guard_and_no_colour_by_default() -> None:
    text = render_text(busy_plan())
    assert "\x1b[" not in text
    assert text.rstrip().splitlines()[-1].startswith("Plan: ")
    assert "GUARDS TRIPPED" in text and "--allow-drops" in text
    assert "(1 enrollment outside manage scope left unchanged)" in text


def test_colour_only_when_asked() -> None:
    assert "\x1b[32m+\x1b[0m" in render_text(busy_plan(), color=True)


def test_in_sync_sentence() -> None:
    assert "No changes. Canvas is in sync with the roster." in render_text(
        plan_of([want("s1")], [have("s1")])
    )


def test_text_elides_long_courses() -> None:
    plan = plan_of([want(f"s{i}") for i in range(30)], [])
    text = render_text(plan, max_per_course=5)
    assert "... and 25 more operations in this course" in text


def test_markdown_collapses_and_limits_per_course() -> None:
    plan = plan_of([want(f"s{i}") for i in range(30)], [])
    text = render_markdown(plan, max_per_course=10)
    assert "<details><summary>sis_course_id:MATH101: 30 operations</summary>" in text
    assert "... and 20 more" in text
    assert text.count("| `+` | enroll |") == 10


def test_markdown_escapes_pipes() -> None:
    plan = plan_of([want("a|b")], [])
    assert "sis_user_id:a\\|b" in render_markdown(plan)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        render(busy_plan(), "yaml")
