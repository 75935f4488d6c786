"""An operation whose retries ran out is read back once before it is reported failed.

Against the simulator over real HTTP: every write lands in Canvas, but its answer is lost
on the way back (the client raises as if the connection dropped after the request was
processed, the lost-response case of facts §11's retry advice). Each operation must be
confirmed by one read and recorded done, not failed; nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from apply_world import ROOT, config_for, plan_live, write_config

from reconcile.apply import Journal, apply_plan
from reconcile.apply.executor import VERIFIED
from reconcile.canvas import CanvasClient
from reconcile.canvas.errors import TransportError
from reconcile.plan import Request

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"


class LosingClient(CanvasClient):
    """Sends every request for real, then loses the answer of every write."""

    def send(self, request: Request) -> Any:
        answer = super().send(request)
        if request.method != "GET":
            raise TransportError(
                "connection reset after the request was sent", method=request.method, path=request.path
            )
        return answer


def test_writes_whose_answers_were_lost_are_confirmed_by_one_read(university, tmp_path: Path) -> None:
    config = config_for(
        write_config(
            tmp_path / "reconcile.yaml",
            url=university.url,
            state_dir=tmp_path / "state",
            extra="roster:\n  custom_roles:\n    Grader: ta\n",
        ),
        university.url,
    )
    with CanvasClient(university.url, university.token) as client:
        plan = plan_live([ROSTER], config=config, client=client)
        actions = {op.action.value for op in plan.operations}
        assert {"enroll", "restore", "conclude", "delete"} <= actions
        university.simulator.reset()
        normal = apply_plan(
            plan, client=client, config=dataclasses.replace(config, state_dir=str(tmp_path / "n"))
        )
        assert {o.how for o in normal.outcomes} == {"applied"}
        reads_when_answered = university.simulator.stats()["reads"]  # the same run, nothing lost
        university.simulator.reset()
        with LosingClient(university.url, university.token) as losing:
            result = apply_plan(plan, client=losing, config=config)
        assert result.exit_code == 0, [o.error for o in result.failures]
        assert {o.how for o in result.outcomes} == {VERIFIED}
        stats = university.simulator.stats()
        assert stats["writes"] == len(plan.operations)  # each sent once
        assert stats["reads"] == reads_when_answered + len(plan.operations)  # and read back once
        assert plan_live([ROSTER], config=config, client=client).operations == ()
    with Journal.in_state_dir(tmp_path / "state") as journal:
        records = journal.operations(plan.plan_id).values()
    assert {r.status for r in records} == {"done"}
    assert all("answers were lost" in (r.note or "") for r in records)
