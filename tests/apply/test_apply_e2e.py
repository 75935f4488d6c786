"""``reconcile apply`` end to end over real HTTP against the simulator (the example university)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apply_world import ROOT, config_for, plan_live, sim_env, write_config
from click.testing import CliRunner

from reconcile.apply import Journal
from reconcile.canvas import CanvasClient
from reconcile.cli import cli
from reconcile.plan import plan_to_json

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"
CUSTOM_ROLES = "roster:\n  custom_roles:\n    Grader: ta\n"


@pytest.fixture()
def world(university, tmp_path: Path):
    """Config, client and a saved plan of the example roster against a fresh simulator."""
    config_path = write_config(
        tmp_path / "reconcile.yaml", url=university.url, state_dir=tmp_path / "state", extra=CUSTOM_ROLES
    )
    config = config_for(config_path, university.url)
    client = CanvasClient(university.url, university.token)
    plan = plan_live([ROSTER], config=config, client=client)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_to_json(plan), encoding="utf-8")

    class World:
        pass

    w = World()
    w.url, w.token, w.sim, w.config, w.config_path, w.client, w.plan, w.plan_path, w.tmp = (
        university.url,
        university.token,
        university.simulator,
        config,
        config_path,
        client,
        plan,
        plan_path,
        tmp_path,
    )
    w.env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}
    yield w
    client.close()


def invoke(world, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["apply", *args, "-c", str(world.config_path)], env=world.env, input=input)


def writes(world) -> int:
    return int(world.sim.stats()["writes"])


def test_apply_converges_and_a_second_apply_writes_nothing(world) -> None:
    assert world.plan.operations, "the example roster should differ from the seed"
    first = invoke(world, str(world.plan_path))
    assert first.exit_code == 0, first.output
    assert re.search(r"enroll\s+applied \d+", first.output)
    assert writes(world) == len(world.plan.operations)
    assert plan_live([ROSTER], config=world.config, client=world.client).operations == ()
    second = invoke(world, str(world.plan_path), "--output", "json")
    assert second.exit_code == 0, second.output
    summary = json.loads(second.output)
    assert summary["resumed"] is True and summary["failures"] == []
    assert all(set(c) == {"done_earlier"} for c in summary["counts"].values())
    assert writes(world) == len(world.plan.operations)  # zero write requests the second time


def test_move_enrolls_before_it_drops_and_history_shows_it(world) -> None:
    moves = {}
    for op in world.plan.operations:
        if op.move_id:
            moves.setdefault(op.move_id, []).append(op)
    assert moves, "the example roster has a section move"
    result = invoke(world, str(world.plan_path))
    assert result.exit_code == 0, result.output
    with Journal.in_state_dir(world.tmp / "state") as journal:
        records = journal.operations(world.plan.plan_id)
        run_id = journal.runs()[0].run_id
    for halves in moves.values():
        enroll = next(records[o.id] for o in halves if o.action.value == "enroll")
        drop = next(records[o.id] for o in halves if o.action.value != "enroll")
        assert (
            enroll.ended_at is not None and drop.started_at is not None and enroll.ended_at <= drop.started_at
        )
    listing = CliRunner().invoke(cli, ["history", "-c", str(world.config_path)], env=world.env)
    assert listing.exit_code == 0 and run_id in listing.output and " ok " in listing.output
    detail = CliRunner().invoke(
        cli,
        ["history", "--run", run_id[:12], "-c", str(world.config_path), "--output", "json"],
        env=world.env,
    )
    data = json.loads(detail.output)
    assert {o["status"] for o in data["operations"]} == {"done"} and len(data["operations"]) == len(
        world.plan.operations
    )
    assert world.token not in (world.tmp / "state" / "journal.sqlite").read_bytes().decode("latin-1")


def test_stale_plan_exits_4_naming_the_course_and_refresh_replans(world) -> None:
    course = world.plan.operations[0].target.course
    # a teacher changes the roster by hand after the plan was made
    row = next(
        e
        for e in world.sim.enrollments()
        if e["workflow_state"] == "active"
        and e["type"] == "StudentEnrollment"
        and str(e["course_id"]) in _course_ids(world, course)
    )
    world.client.send(_deactivate(row))
    stale = invoke(world, str(world.plan_path))
    assert stale.exit_code == 4, stale.output
    assert "stale" in stale.output and course in stale.output
    assert writes(world) == 1  # only the hand edit
    # --refresh makes a new plan: a new review, which needs a terminal or --auto-approve
    unseen = invoke(world, str(world.plan_path), "--refresh")
    assert unseen.exit_code == 1, unseen.output
    assert "Compared with the reviewed plan: 1 operation added" in unseen.output
    assert "added    ~ reactivate" in unseen.output and "no terminal to confirm on" in unseen.output
    assert writes(world) == 1
    refreshed = invoke(world, str(world.plan_path), "--refresh", "--verify", "--auto-approve")
    assert refreshed.exit_code == 0, refreshed.output
    assert f"refreshed from reviewed plan {world.plan.plan_id}" in refreshed.output
    assert "Verify: Canvas matches" in refreshed.output
    with Journal.in_state_dir(world.tmp / "state") as journal:
        runs = journal.runs()
    declined, applied = runs[1], runs[0]
    assert declined.outcome == "declined" and declined.overrides["reviewed_plan_id"] == world.plan.plan_id
    assert applied.outcome == "ok" and applied.overrides["reviewed_plan_id"] == world.plan.plan_id
    assert applied.plan_id != world.plan.plan_id  # both plan ids are in the journal


def _course_ids(world, course_ref: str) -> set[str]:
    frame = world.client.fetch_current([course_ref])
    return {str(v) for v in frame["course_id"].dropna().unique()}


def _deactivate(row):
    from reconcile.plan import Request

    return Request(
        "DELETE", f"/api/v1/courses/{row['course_id']}/enrollments/{row['id']}", {"task": "inactivate"}
    )


def test_guard_refuses_with_exit_3_unless_allow_drops(world, tmp_path: Path) -> None:
    strict = write_config(
        tmp_path / "strict.yaml", url=world.url, state_dir=tmp_path / "state", extra=CUSTOM_ROLES
    )
    strict.write_text(strict.read_text().replace("max_drops: 100000", "max_drops: 0"))
    plan = plan_live([ROSTER], config=config_for(strict, world.url), client=world.client)
    assert plan.tripped_guards
    path = tmp_path / "guarded.json"
    path.write_text(plan_to_json(plan))
    refused = CliRunner().invoke(cli, ["apply", str(path), "-c", str(strict)], env=world.env)
    assert refused.exit_code == 3, refused.output
    assert "--allow-drops" in refused.output and writes(world) == 0
    allowed = CliRunner().invoke(cli, ["apply", str(path), "-c", str(strict), "--allow-drops"], env=world.env)
    assert allowed.exit_code == 0, allowed.output
    with Journal.in_state_dir(tmp_path / "state") as journal:
        runs = journal.runs()
    assert [r.outcome for r in runs] == ["ok", "guard"]
    assert runs[0].overrides["allow_drops"] is True and runs[0].overrides["guards_overridden"]


def test_failed_operation_exits_5_with_canvas_message_and_the_rest_applies(world) -> None:
    data = json.loads(world.plan_path.read_text())
    victim = next(op for op in data["operations"] if op["action"] == "enroll" and not op["depends_on"])
    victim["request"]["params"]["enrollment[user_id]"] = "sis_user_id:NO-SUCH-USER"
    world.plan_path.write_text(json.dumps(data))
    result = invoke(world, str(world.plan_path))
    assert result.exit_code == 5, result.output
    assert "Failed (1)" in result.output and "The specified resource does not exist." in result.output
    assert writes(world) == len(data["operations"])  # the others were all applied


def test_verify_reports_what_is_left_and_exits_5(world) -> None:
    data = json.loads(world.plan_path.read_text())
    kept = [op for op in data["operations"] if op["action"] != "restore"]
    assert len(kept) < len(data["operations"])
    data["operations"] = kept
    world.plan_path.write_text(json.dumps(data))
    result = invoke(world, str(world.plan_path), "--verify", "--output", "json")
    assert result.exit_code == 5, result.output
    summary = json.loads(result.output)
    assert summary["verify"]["in_sync"] is False
    assert {op["action"] for op in summary["verify"]["remaining"]} == {"restore"}


def test_roster_input_without_terminal_or_auto_approve_exits_1(world) -> None:
    refused = invoke(world, str(ROSTER))
    assert refused.exit_code == 1 and "--auto-approve" in refused.output
    assert writes(world) == 0
    approved = invoke(world, str(ROSTER), "--auto-approve")
    assert approved.exit_code == 0, approved.output
    assert plan_live([ROSTER], config=world.config, client=world.client).operations == ()


def test_unknown_plan_version_and_usage_errors_exit_1(world) -> None:
    data = json.loads(world.plan_path.read_text())
    data["format_version"] = 99
    world.plan_path.write_text(json.dumps(data))
    result = invoke(world, str(world.plan_path))
    assert result.exit_code == 1 and "format_version" in result.output
    assert invoke(world, str(world.plan_path), "--parallelism", "0").exit_code == 1
    assert (
        CliRunner()
        .invoke(cli, ["history", "--run", "nope", "-c", str(world.config_path)], env=world.env)
        .exit_code
        == 1
    )


def test_bad_token_exits_1_without_leaking_it(world) -> None:
    env = {**world.env, "CANVAS_API_TOKEN": "wrong-secret-token"}
    result = CliRunner().invoke(cli, ["apply", str(world.plan_path), "-c", str(world.config_path)], env=env)
    assert result.exit_code == 1, result.output
    assert "wrong-secret-token" not in result.output


def test_two_concurrent_applies_second_exits_6_naming_the_holder(world) -> None:
    cmd = [sys.executable, "-m", "reconcile", "apply", str(world.plan_path), "-c", str(world.config_path)]
    first, second = run_while_another_holds_the_lock(world, cmd, cmd, state_dir=world.tmp / "state")
    assert second.returncode == 6, second.stderr
    assert f"pid {first.pid}" in second.stderr and "--lock-timeout" in second.stderr


def run_while_another_holds_the_lock(world, first_cmd, second_cmd, *, state_dir: Path, cwd=(ROOT, ROOT)):
    """Start ``first_cmd`` (one operation at a time, each request slowed to a second, so it holds the
    lock for many seconds whatever the machine's load), run ``second_cmd`` once the first holds the
    lock, then let the first finish quickly. Returns (first Popen, second CompletedProcess)."""
    world.sim.set_faults(latency_ms=1000)
    env = sim_env(world.url, world.token)
    first = subprocess.Popen(
        [*first_cmd, "--parallelism", "1"],
        env=env,
        cwd=cwd[0],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        holder = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and holder is None:
            files = list(state_dir.glob("apply-*.holder.json"))
            if files and json.loads(files[0].read_text()).get("pid") == first.pid:
                holder = files[0]
            time.sleep(0.05)
        assert holder is not None, "the first apply never took the lock"
        second = subprocess.run(second_cmd, env=env, cwd=cwd[1], capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first apply finished before the second asked for the lock"
    finally:
        world.sim.set_faults(latency_ms=0)
        _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    return first, second


@pytest.mark.parametrize(
    ("roster", "config_name"),
    [
        ("sis-export/enrollments.csv", "sis-export/reconcile.yaml"),
        ("yaml/roster.yaml", "yaml/reconcile.yaml"),
        ("oneroster/bulk", "oneroster/reconcile.yaml"),
    ],
)
def test_every_example_converges_with_its_own_config(
    university, tmp_path: Path, roster: str, config_name: str
) -> None:
    import dataclasses

    from reconcile.apply import apply_plan

    examples = ROOT / "examples"
    config = config_for(examples / config_name, university.url)
    # the examples' guards are the real defaults; the seed differs from them on purpose
    config = dataclasses.replace(config, state_dir=str(tmp_path / "state"))
    with CanvasClient(university.url, university.token) as client:
        plan = plan_live([examples / roster], config=config, client=client)
        assert plan.operations
        result = apply_plan(plan, client=client, config=config, allow_drops=True)
        assert result.exit_code == 0, [o.error for o in result.failures]
        assert plan_live([examples / roster], config=config, client=client).operations == ()


def test_resumed_run_ignores_our_writes_but_refuses_a_hand_edit_in_between(world) -> None:
    data = json.loads(world.plan_path.read_text())
    victim = next(op for op in data["operations"] if op["action"] == "enroll" and not op["depends_on"])
    victim["request"]["params"]["enrollment[user_id]"] = "sis_user_id:NO-SUCH-USER"
    world.plan_path.write_text(json.dumps(data))
    assert invoke(world, str(world.plan_path)).exit_code == 5
    again = invoke(world, str(world.plan_path), "--output", "json")
    assert again.exit_code == 5, again.output  # resumed, not stale: our own writes are not a change
    assert json.loads(again.output)["resumed"] is True
    course = victim["target"]["course"]
    untouched = {op["before"]["id"] for op in data["operations"] if op.get("before")}
    row = next(
        e
        for e in world.sim.enrollments()
        if e["workflow_state"] == "active"
        and e["id"] not in untouched
        and str(e["course_id"]) in _course_ids(world, course)
    )
    world.client.send(_deactivate(row))
    stale = invoke(world, str(world.plan_path))
    assert stale.exit_code == 4 and course in stale.output


def test_observer_of_a_new_student_waits_for_the_students_canvas_id(university, tmp_path: Path) -> None:
    from apply_world import synthetic_roster, write_roster

    from reconcile.apply import apply_plan
    from reconcile.sim.generate import generate

    seed = generate(courses=20, students_per_course=20, sections_per_course=2, random_seed=4)
    # Students Canvas knows but who have no enrollment anywhere in scope, planned with the token of
    # the course's teacher: the Users API does not show a teacher other users (users_controller
    # #api_show answers 404), and the course's list filtered by user only says they exist, so the
    # planner cannot know their Canvas user id and their observers take it from the enroll's response.
    next_id = max(u["id"] for u in seed["users"]) + 1
    newcomers = [
        {
            "id": next_id + n,
            "name": f"New Student {n}",
            "sortable_name": f"Student, New {n}",
            "sis_user_id": f"NEW{n}",
            "login_id": f"new{n}@example.edu",
        }
        for n in range(4)
    ]
    seed["users"] += newcomers
    parent = next(u for u in seed["users"] if str(u.get("sis_user_id", "")).startswith("P"))
    course = next(c for c in seed["courses"] if c["workflow_state"] == "available")
    teacher = next(
        e["user_id"]
        for e in seed["enrollments"]
        if e["course_id"] == course["id"] and e["type"] == "TeacherEnrollment"
    )
    seed["tokens"].append({"token": "sim-teacher-token", "user_id": teacher})
    rows = [
        r
        for r in synthetic_roster(seed)
        if r["course_id"] == course["sis_course_id"] and r["role"] == "student"
    ]
    section = next(s for s in seed["sections"] if s["course_id"] == course["id"])
    for student in newcomers:
        base = {
            "course_id": course["sis_course_id"],
            "section_id": section["sis_section_id"],
            "status": "active",
        }
        rows.append({**base, "user_id": student["sis_user_id"], "role": "student", "associated_user_id": ""})
        rows.append(
            {
                **base,
                "user_id": parent["sis_user_id"],
                "role": "observer",
                "associated_user_id": student["sis_user_id"],
            }
        )
    roster = write_roster(rows, tmp_path / "enrollments.csv")
    simulator = type(university.simulator).from_seed(seed)
    with simulator.serve() as url:
        config = config_for(
            write_config(tmp_path / "reconcile.yaml", url=url, state_dir=tmp_path / "state"), url
        )
        with CanvasClient(url, "sim-teacher-token") as client:
            plan = plan_live([roster], config=config, client=client)
            chained = [
                op for op in plan.operations if any(isinstance(v, dict) for v in op.request.params.values())
            ]
            assert chained, "the roster has observers of students new to their course"
            assert apply_plan(plan, client=client, config=config).exit_code == 0
            assert plan_live([roster], config=config, client=client).operations == ()
        rows = {e["id"]: e for e in simulator.enrollments()}
    with Journal.in_state_dir(tmp_path / "state") as journal:
        records = journal.operations(plan.plan_id)
    for op in chained:
        (student_op,) = op.depends_on
        student, observer = records[student_op], records[op.id]
        assert student.ended_at is not None and observer.started_at is not None
        assert student.ended_at <= observer.started_at
        assert rows[observer.enrollment_id]["associated_user_id"] == rows[student.enrollment_id]["user_id"]


def test_history_has_a_header_row_and_shows_what_an_update_changed(world) -> None:
    roster = world.tmp / "later-end.csv"
    roster.write_text(
        ROSTER.read_text().replace(
            "S0009,student,active,2026-09-01T00:00:00Z,2026-12-15T23:59:59Z",
            "S0009,student,active,2026-09-01T00:00:00Z,2026-12-20T23:59:59Z",
        )
    )
    plan = plan_live([roster], config=world.config, client=world.client)
    update = next(op for op in plan.operations if op.action.value == "update")
    assert update.target.user == "sis_user_id:S0009"
    plan_path = world.tmp / "later.json"
    plan_path.write_text(plan_to_json(plan), encoding="utf-8")
    assert invoke(world, str(plan_path)).exit_code == 0
    listing = CliRunner().invoke(cli, ["history", "-c", str(world.config_path)], env=world.env)
    header, row = listing.output.splitlines()[:2]
    assert header.split() == ["run", "started", "outcome", "plan", "by", "operations"]
    assert row.split()[2] == "ok"
    assert [header.index(word) for word in ("started", "outcome", "plan")] == [
        row.index(value) for value in (row.split()[1], row.split()[2], row.split()[3])
    ]  # the columns line up
    run_id = row.split()[0]
    detail = CliRunner().invoke(
        cli, ["history", "--run", run_id, "-c", str(world.config_path)], env=world.env
    )
    line = next(text for text in detail.output.splitlines() if " update " in text)
    assert "sis_user_id:S0009" in line and "end_at 2026-12-15T23:59:59Z -> 2026-12-20T23:59:59Z" in line
    assert "-> active" not in line
