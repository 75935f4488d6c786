"""Two applies against one Canvas from two state dirs (two runners, each with its own journal).

The lock covers one state dir, or the folder ``lock.path`` names (reconcile/apply/lock.py).
Without a shared lock, Canvas itself must show what happened: a course whose fingerprint
changed only by this plan's own effects is recognised as applied elsewhere
(reconcile/apply/elsewhere.py), at the stale check or at the re-check just before the run's
first write to the course; a course another plan changed in between is not touched.
The simulator's stats count what reached Canvas: DELETE and reactivate exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from apply_world import ROOT, config_for, plan_live, sim_env, write_config

from reconcile.apply import apply_plan
from reconcile.canvas import CanvasClient
from reconcile.plan import Request, plan_to_json

EXAMPLE = ROOT / "examples" / "sis-export" / "enrollments.csv"
CUSTOM_ROLES = "roster:\n  custom_roles:\n    Grader: ta\n"
ONCE = ("DELETE /api/v1/courses/:id/enrollments/:id", "PUT /api/v1/courses/:id/enrollments/:id/reactivate")


@pytest.fixture()
def world(university, tmp_path: Path):
    roster = tmp_path / "enrollments.csv"  # the example, with an inactive student back: a reactivate
    text = EXAMPLE.read_text(encoding="utf-8")
    roster.write_text(text.replace("S0010,student,inactive", "S0010,student,active"), encoding="utf-8")

    class World:
        sim = university.simulator
        url, token, tmp = university.url, university.token, tmp_path
        env = sim_env(university.url, university.token)

        def config(self, name: str, *, lock: Path | None = None) -> Path:
            extra = CUSTOM_ROLES + (f"lock:\n  path: {lock}\n" if lock else "")
            return write_config(
                tmp_path / f"{name}.yaml", url=self.url, state_dir=tmp_path / name, extra=extra
            )

        def plan(self, config: Path) -> Any:
            with CanvasClient(self.url, self.token) as client:
                made = plan_live([roster], config=config_for(config, self.url), client=client)
            actions = {op.action.value for op in made.operations}
            assert {"reactivate", "delete", "conclude", "enroll", "restore"} <= actions
            path = tmp_path / "plan.json"
            path.write_text(plan_to_json(made), encoding="utf-8")
            return made, path

        def state(self) -> list[tuple[Any, ...]]:
            return sorted(
                (e["id"], e["workflow_state"], e["course_section_id"], e["start_at"], e["end_at"])
                for e in self.sim.enrollments()
            )

        def apply(self, plan_path: Path, config: Path, *extra: str) -> subprocess.Popen[str]:
            cmd = [
                sys.executable,
                "-m",
                "reconcile",
                "apply",
                str(plan_path),
                "-c",
                str(config),
                "--output",
                "json",
            ]
            return subprocess.Popen(
                [*cmd, *extra],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

    return World()


def _summary(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    summary: dict[str, Any] = json.loads(out)
    return summary


def _hows(summary: dict[str, Any]) -> set[str]:
    return {how for by_how in summary["counts"].values() for how in by_how}


def test_the_same_plan_from_a_second_state_dir_writes_nothing(world) -> None:
    plan, path = world.plan(world.config("a"))
    first = _summary(world.apply(path, world.config("a")))
    assert _hows(first) == {"applied"}
    after_first, stats = world.state(), world.sim.stats()
    second = _summary(world.apply(path, world.config("b")))
    assert second["resumed"] is False  # its own journal knows nothing of the first
    assert _hows(second) == {"already_held"}
    assert sum(sum(c.values()) for c in second["counts"].values()) == len(plan.operations)
    again = world.sim.stats()
    assert again["writes"] == stats["writes"] == len(plan.operations)
    for route in ONCE:
        expected = sum(1 for op in plan.operations if _route(op.request) == route)
        assert again["requests"][route] == stats["requests"][route] == expected
    assert world.state() == after_first


def test_concurrent_applies_sharing_lock_path_run_one_after_the_other(world) -> None:
    shared = world.tmp / "shared-lock"
    a, b = world.config("a", lock=shared), world.config("b", lock=shared)
    plan, path = world.plan(a)
    world.sim.set_faults(latency_ms=150)  # both start while the other may still run
    procs = [world.apply(path, a, "--lock-timeout", "90"), world.apply(path, b, "--lock-timeout", "90")]
    summaries = [_summary(p) for p in procs]
    world.sim.set_faults(latency_ms=0)
    assert sorted(_hows(s) == {"applied"} for s in summaries) == [False, True]
    assert any(_hows(s) == {"already_held"} for s in summaries)  # the other wrote nothing
    stats = world.sim.stats()
    assert stats["writes"] == len(plan.operations)
    for route in ONCE:
        assert stats["requests"][route] == sum(1 for op in plan.operations if _route(op.request) == route)


class HookedClient(CanvasClient):
    """A client that runs ``hook`` once, just before the first single-course fetch: the
    re-check before the run's first write to that course. Something else happens in Canvas
    exactly between this run's stale check and its first write."""

    def __init__(self, *args: Any, hook: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hook = hook

    def fetch_current(self, course_refs: Sequence[str], **kwargs: Any) -> pd.DataFrame:
        if len(course_refs) == 1 and self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return super().fetch_current(course_refs, **kwargs)


def test_a_second_run_of_the_same_plan_meeting_the_first_between_check_and_write_holds_it(world) -> None:
    config_a, config_b = world.config("a"), world.config("b")
    plan, path = world.plan(config_a)
    conf_a, conf_b = config_for(config_a, world.url), config_for(config_b, world.url)

    def first_run_finishes_meanwhile() -> None:
        with CanvasClient(world.url, world.token) as client:
            done = apply_plan(plan, client=client, config=conf_a)
        assert done.exit_code == 0 and {o.how for o in done.outcomes} == {"applied"}

    with HookedClient(world.url, world.token, hook=first_run_finishes_meanwhile) as client:
        second = apply_plan(plan, client=client, config=conf_b, parallelism=1)
    assert second.exit_code == 0, [o.error for o in second.failures]
    assert {o.how for o in second.outcomes} == {"already_held"}
    stats = world.sim.stats()
    assert stats["writes"] == len(plan.operations)
    for route in ONCE:
        assert stats["requests"][route] == sum(1 for op in plan.operations if _route(op.request) == route)


def test_another_plans_write_between_check_and_first_write_leaves_the_course_untouched(world) -> None:
    config = world.config("b")
    plan, _ = world.plan(config)
    reactivate = next(op for op in plan.operations if op.action.value == "reactivate")
    course, course_id = reactivate.target.course, (reactivate.before or {})["course_id"]
    planned = {(op.before or {}).get("id") for op in plan.operations}
    bystander = next(
        e
        for e in world.sim.enrollments()
        if e["course_id"] == course_id
        and e["workflow_state"] == "active"
        and e["type"] == "StudentEnrollment"
        and e["id"] not in planned
    )

    def another_plan_writes_the_course() -> None:
        with CanvasClient(world.url, world.token) as other:
            other.send(
                Request(
                    "DELETE",
                    f"/api/v1/courses/{bystander['course_id']}/enrollments/{bystander['id']}",
                    {"task": "conclude"},
                )
            )

    writes_before = world.sim.stats()["writes"]
    with HookedClient(world.url, world.token, hook=another_plan_writes_the_course) as client:
        result = apply_plan(plan, client=client, config=config_for(config, world.url), parallelism=1)
    skipped = [o for o in result.outcomes if o.status == "skipped"]
    assert skipped and {o.operation.target.course for o in skipped} == {course}
    assert all("changed in Canvas after this run's stale check" in (o.error or "") for o in skipped)
    assert result.exit_code == 5
    ours = [op for op in plan.operations if op.target.course != course]
    assert world.sim.stats()["writes"] - writes_before == 1 + len(
        ours
    )  # the other plan's write and our other courses


def _route(request: Request) -> str:
    if request.method == "DELETE":
        return ONCE[0]
    if request.path.endswith("/reactivate"):
        return ONCE[1]
    return ""
