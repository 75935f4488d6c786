"""The load-time check of a saved plan (planner/verify.py, DESIGN §7), on plans made in memory.

End-to-end refusals (exit 1, nothing sent) are in tests/apply/test_apply_tampered.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconcile.plan import Action, plan_from_json, plan_to_json
from reconcile.planner.calls import path_segment
from reconcile.planner.verify import MAX_SHOWN, PlanTampered, verify_plan

from .factory import have, plan_of, want
from .test_document import sample_plan


def _reloaded(data: dict[str, Any]) -> Any:
    return plan_from_json(json.dumps(data))


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(PlanTampered) as caught:
        verify_plan(_reloaded(data))
    return str(caught.value)


def test_plans_the_planner_writes_verify() -> None:
    for plan in (
        sample_plan(),
        plan_of([want("s1", section="sis_section_id:MATH101-02")], [have("s1")]),  # a move
        plan_of([want("s1", status="completed")], [have("s1")]),
        plan_of([want("s1")], [have("s1", state="inactive")]),
    ):
        verify_plan(plan_from_json(plan_to_json(plan)))


def test_a_ref_holding_dot_dot_goes_into_the_path_in_hex_form() -> None:
    assert path_segment("sis_section_id:A/../B") == "hex:sis_section_id:" + b"A/../B".hex()
    assert path_segment("sis_section_id:A.B") == "sis_section_id:A.B"
    plan = plan_of([want("s1", section="sis_section_id:..", course="sis_course_id:X..Y")], [])
    (op,) = plan.operations
    assert op.request.path == "/api/v1/sections/hex:sis_section_id:2e2e/enrollments"
    assert ".." not in op.request.path
    verify_plan(plan_from_json(plan_to_json(plan)))


def test_an_observer_placeholder_must_name_its_observees_enroll() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    observer = next(op for op in data["operations"] if op["target"]["associated_user"])
    other = next(op for op in data["operations"] if op["id"] not in observer["depends_on"])
    observer["request"]["params"]["enrollment[associated_user_id]"]["from_operation"] = other["id"]
    assert "is not the enroll of its observee sis_user_id:s9" in _refusal(data)


def test_a_plan_from_before_requests_were_derived_is_told_to_replan() -> None:
    data = json.loads(plan_to_json(sample_plan()))
    enroll = next(op for op in data["operations"] if op["action"] == "enroll")
    del enroll["after"]["requested_state"], enroll["after"]["notify"]
    assert "made by an older version? make a new plan" in _refusal(data)


def test_the_refusal_lists_a_few_problems_and_counts_the_rest() -> None:
    plan = plan_of([want(f"s{i}") for i in range(MAX_SHOWN + 3)], [])
    data = json.loads(plan_to_json(plan))
    for op in data["operations"]:
        op["request"]["params"]["enrollment[notify]"] = "true"  # each would notify, unlike what it shows
    message = _refusal(data)
    assert message.count("differs from the one its content gives") == MAX_SHOWN
    assert "... and 3 more" in message and message.startswith("not a valid plan")


def test_a_request_another_action_makes_is_not_one_this_action_may_make() -> None:
    plan = plan_of([want("s1")], [have("s1", state="inactive")])
    (op,) = plan.operations
    assert op.action is Action.REACTIVATE
    data = json.loads(plan_to_json(plan))
    data["operations"][0]["request"] = {
        "method": "DELETE",
        "path": data["operations"][0]["request"]["path"].removesuffix("/reactivate"),
        "params": {"task": "delete"},
    }
    assert "is not the Enrollments call a reactivate makes (PUT /api/v1/courses/:id" in _refusal(data)
