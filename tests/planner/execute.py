"""Test helper: perform a plan's requests in dependency order with the real client (no apply engine).

The apply engine has its own journal, retries and concurrency; these tests only need to
know that the *requests the planner wrote* do what the plan says against a faithful Canvas.
"""

from __future__ import annotations

from typing import Any

from reconcile.canvas import CanvasClient
from reconcile.plan import DROP_ACTIONS, Action, Plan, Request

PHASES = (
    {Action.ENROLL, Action.RESTORE, Action.REACTIVATE, Action.UPDATE},
    {Action.SET_LAST_ATTENDED},
    set(DROP_ACTIONS),
)


def execute(client: CanvasClient, plan: Plan) -> dict[str, Any]:
    """Send every operation's request, dependencies first; returns op id -> Canvas answer."""
    answers: dict[str, Any] = {}
    for phase in PHASES:
        pending = [op for op in plan.operations if op.action in phase]
        while pending:
            ready = [op for op in pending if all(dep in answers for dep in op.depends_on)]
            assert ready, "operations wait on something that never runs"
            for op in ready:
                params = {
                    key: str(answers[value["from_operation"]][value["field"]])
                    if isinstance(value, dict)
                    else value
                    for key, value in op.request.params.items()
                }
                answers[op.id] = client.send(Request(op.request.method, op.request.path, params))
            pending = [op for op in pending if op.id not in answers]
    return answers
