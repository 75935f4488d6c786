"""A saved plan is a reviewed document, not a script (DESIGN §7; planner/verify.py).

A corpus of edited plans, each an edit an attacker (or a careless hand) could make to a plan
travelling as a CI artifact: every one is refused by ``reconcile apply`` with exit 1 and no
write in the simulator's stats, and ``reconcile show`` refuses to render it. Edits caught on
load cost no request at all; a plan whose hashes were recomputed after the edit is caught
either on load (its request is still one no action may make) or, where only Canvas knows the
ids, after the stale fetch and before the first write. (An observee's numeric id swapped and
rehashed is beyond what Canvas's lists can confirm; only a signature catches that edit:
tests/apply/test_apply_signing.py.)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apply_world import ROOT, config_for, plan_live, reseal, write_config
from click.testing import CliRunner

from reconcile.canvas import CanvasClient
from reconcile.cli import cli
from reconcile.plan import plan_from_dict, plan_to_json
from reconcile.planner.links import operation_id

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"
CUSTOM_ROLES = "roster:\n  custom_roles:\n    Grader: ta\n"
OTHER_TEACHER = (101, 1001)  # (course id, enrollment id) of MATH101's teacher in the seed

Plan = dict[str, Any]


def _op(data: Plan, action: str, **where: Any) -> dict[str, Any]:
    for op in data["operations"]:
        if op["action"] == action and all(op["target"].get(k) == v for k, v in where.items()):
            return op
    raise AssertionError(f"no {action} {where} in the plan")


def _conclude(data: Plan) -> dict[str, Any]:
    return _op(data, "conclude")


def conclude_retargeted_with_query(data: Plan) -> None:
    """The issue's own edit: a student's conclude turned into deleting another course's teacher."""
    course, eid = OTHER_TEACHER
    _conclude(data)["request"]["path"] = f"/api/v1/courses/{course}/enrollments/{eid}?task=delete"


def conclude_retargeted(data: Plan) -> None:
    course, eid = OTHER_TEACHER
    request = _conclude(data)["request"]
    request["path"] = f"/api/v1/courses/{course}/enrollments/{eid}"
    request["params"] = {"task": "delete"}


def delete_a_course(data: Plan) -> None:
    _conclude(data)["request"].update(path="/api/v1/courses/104", params={"event": "delete"})


def query_inside_the_path(data: Plan) -> None:
    request = _conclude(data)["request"]
    request["path"] += "?as_user_id=1"


def dot_dot_to_another_endpoint(data: Plan) -> None:
    request = _conclude(data)["request"]
    request["path"] = "/api/v1/courses/103/enrollments/1207/../../../../accounts/1/courses"


def escaped_dot_dot(data: Plan) -> None:
    request = _conclude(data)["request"]
    request["path"] = "/api/v1/courses/103/enrollments/%2e%2e/%2E%2e/101/enrollments/1001"


def double_escaped_dot_dot(data: Plan) -> None:
    request = _conclude(data)["request"]
    request["path"] = "/api/v1/courses/103/enrollments/%252e%252e/1001"


def empty_segment(data: Plan) -> None:
    request = _conclude(data)["request"]
    request["path"] = "/api/v1/courses/103//enrollments/1207"


def action_request_mismatch(data: Plan) -> None:
    """The journal would record a conclude while Canvas deletes."""
    _conclude(data)["request"]["params"]["task"] = "delete"


def extra_parameter(data: Plan) -> None:
    """Masquerading as another user is one parameter away."""
    _op(data, "enroll")["request"]["params"]["as_user_id"] = "1"


def enroll_the_token_owner(data: Plan) -> None:
    _op(data, "enroll")["request"]["params"]["enrollment[user_id]"] = "self"


def teacher_instead_of_student(data: Plan) -> None:
    params = _op(data, "enroll", user="sis_user_id:S0024")["request"]["params"]
    params["enrollment[type]"] = "TeacherEnrollment"


def changed_enrollment_id(data: Plan) -> None:
    """The content changed but not the request: what show renders is no longer what is sent."""
    _conclude(data)["before"]["id"] = OTHER_TEACHER[1]


def changed_operation_id(data: Plan) -> None:
    _conclude(data)["id"] = "0123456789abcdef"


def changed_plan_id(data: Plan) -> None:
    data["plan_id"] = "0" * 24


def injected_operation(data: Plan) -> None:
    """A new operation, self-consistent (its id hashes its content), appended to the plan."""
    course, eid = OTHER_TEACHER
    op = copy.deepcopy(_conclude(data))
    op.update(action="delete", reason="absent_from_roster", origin=[])
    op["target"].update(
        course="sis_course_id:MATH101-F26", user="sis_user_id:T1001", role="TeacherEnrollment"
    )
    op["before"].update(id=eid, course_id=course, state="active")
    op["after"] = {"state": "deleted"}
    op["request"] = {
        "method": "DELETE",
        "path": f"/api/v1/courses/{course}/enrollments/{eid}",
        "params": {"task": "delete"},
    }
    op["id"] = operation_id(plan_from_dict({**data, "operations": [op]}).operations[0])
    data["operations"].append(op)


def dependency_removed(data: Plan) -> None:
    """The drop half of a move no longer waits for its enroll: the student could lose access."""
    drop = next(op for op in data["operations"] if op["move_id"] and op["action"] != "enroll")
    drop["depends_on"] = []


def operations_reordered(data: Plan) -> None:
    data["operations"].reverse()


def changed_canvas_url(data: Plan) -> None:
    data["canvas_url"] = "https://canvas.example.edu"


def changed_fingerprint(data: Plan) -> None:
    """A fingerprint from a later fetch would make a stale plan pass the stale check."""
    course = next(iter(data["fingerprints"]))
    data["fingerprints"][course] = "f" * 32


def summary_miscounted(data: Plan) -> None:
    data["summary"]["conclude"] = 0


def guards_cleared(data: Plan) -> None:
    """A plan whose guards tripped, made to look as if none had."""
    data["guards"] = []
    data["warnings"] = []


LOAD_TIME: list[Callable[[Plan], None]] = [
    conclude_retargeted_with_query,
    conclude_retargeted,
    delete_a_course,
    query_inside_the_path,
    dot_dot_to_another_endpoint,
    escaped_dot_dot,
    double_escaped_dot_dot,
    empty_segment,
    action_request_mismatch,
    extra_parameter,
    enroll_the_token_owner,
    teacher_instead_of_student,
    changed_enrollment_id,
    changed_operation_id,
    changed_plan_id,
    injected_operation,
    dependency_removed,
    operations_reordered,
    changed_canvas_url,
    changed_fingerprint,
    summary_miscounted,
    guards_cleared,
]


@pytest.fixture()
def world(university, tmp_path: Path):
    config_path = write_config(
        tmp_path / "reconcile.yaml", url=university.url, state_dir=tmp_path / "state", extra=CUSTOM_ROLES
    )
    with CanvasClient(university.url, university.token) as client:
        plan = plan_live([ROSTER], config=config_for(config_path, university.url), client=client)
    university.simulator.reset()  # the plan's own fetch is not part of what is counted below

    class World:
        sim = university.simulator
        env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}
        data = json.loads(plan_to_json(plan))
        tmp = tmp_path
        config = config_path

        def run(self, *args: str) -> Any:
            return CliRunner().invoke(cli, [*args, "-c", str(self.config)], env=self.env)

        def show(self, path: Path) -> Any:
            return CliRunner().invoke(cli, ["show", str(path)], env=self.env)

        def write(self, data: Plan, name: str = "tampered.json") -> Path:
            path = self.tmp / name
            path.write_text(json.dumps(data, indent=1), encoding="utf-8")
            return path

    return World()


def test_the_untampered_plan_is_accepted_so_the_corpus_tests_something(world) -> None:
    path = world.write(world.data, "plan.json")
    shown = world.show(path)
    assert shown.exit_code == 0, shown.output
    assert "conclude" in shown.output and world.sim.stats()["total"] == 0
    applied = world.run("apply", str(path))
    assert applied.exit_code == 0, applied.output
    assert world.sim.stats()["writes"] == len(world.data["operations"])


@pytest.mark.parametrize("edit", LOAD_TIME, ids=lambda f: f.__name__)
def test_an_edited_plan_is_refused_on_load_with_nothing_sent(world, edit: Callable[[Plan], None]) -> None:
    data = copy.deepcopy(world.data)
    edit(data)
    assert data != world.data
    path = world.write(data)
    result = world.run("apply", str(path), "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "not a valid plan" in result.output and "Nothing was sent" in result.output
    shown = world.show(path)
    assert shown.exit_code == 1 and "not a valid plan" in shown.output
    assert shown.output.startswith("Error:")  # nothing of the plan was rendered
    assert world.sim.stats()["total"] == 0  # not even the stale check's fetch


def resealed_retarget(data: Plan) -> None:
    """The conclude's content pointed at another course's teacher, every hash recomputed."""
    course, eid = OTHER_TEACHER
    _conclude(data)["before"].update(id=eid, course_id=course)


def resealed_path_smuggled_through_an_id(data: Plan) -> None:
    """Text where an id belongs, so that the derived path climbs elsewhere."""
    _conclude(data)["before"]["course_id"] = "103/../101"


def resealed_canvas_url(data: Plan) -> None:
    data["canvas_url"] = "https://canvas.example.edu"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            resealed_retarget,
            "course_ref in Canvas is sis_course_id:MATH101-F26, not sis_course_id:HIST200-F26",
        ),
        (resealed_path_smuggled_through_an_id, "not a valid plan"),
        (resealed_canvas_url, "the plan was made for https://canvas.example.edu"),
    ],
    ids=["retarget", "path_through_an_id", "canvas_url"],
)
def test_an_edited_plan_with_recomputed_hashes_is_refused_before_any_write(
    world, edit: Callable[[Plan], None], says: str
) -> None:
    data = copy.deepcopy(world.data)
    edit(data)
    data = reseal(data)
    path = world.write(data)
    result = world.run("apply", str(path))
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert world.sim.stats()["writes"] == 0
