"""End to end over real HTTP: the examples planned against the simulator, the planner's requests
performed with the real client, and the re-plan found empty."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.canvas import CanvasClient
from reconcile.canvas.snapshot import write_snapshot
from reconcile.cli import cli
from reconcile.config import load_config
from reconcile.pipeline import RosterInvalid, load_plan, make_plan

from .execute import execute

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "sis-export": (["examples/sis-export/enrollments.csv"], "examples/sis-export/reconcile.yaml"),
    "yaml": (["examples/yaml/roster.yaml"], "examples/yaml/reconcile.yaml"),
    "oneroster": (["examples/oneroster/bulk"], "examples/oneroster/reconcile.yaml"),
}


@pytest.fixture
def canvas(university, monkeypatch):  # type: ignore[no-untyped-def]
    """The example university with the throttle off (these tests are about rules, not pacing)."""
    university.simulator.set_faults(throttle="off")
    monkeypatch.setenv("CANVAS_API_URL", university.url)
    monkeypatch.setenv("CANVAS_API_TOKEN", university.token)
    monkeypatch.chdir(ROOT)
    client = CanvasClient(university.url, university.token)
    yield university, client
    client.close()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_plans_applies_and_replans_empty(canvas, name: str) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    rosters, config_path = EXAMPLES[name]
    config = load_config(config_path)
    plan, roster = make_plan(rosters, config=config, client=client)
    assert roster.ok
    assert plan.operations, f"the {name} example should differ from the seed"
    assert plan.canvas_url == university.url
    execute(client, plan)
    again, _ = make_plan(rosters, config=config, client=client)
    assert again.operations == (), [(op.action.value, op.target) for op in again.operations]


def test_plan_command_exit_codes_and_saved_plan(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    rosters, config_path = EXAMPLES["sis-export"]
    out = tmp_path / "plan.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", *rosters, "-c", config_path, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Plan: " in result.output and str(out) in result.output
    detailed = runner.invoke(cli, ["plan", *rosters, "-c", config_path, "--detailed-exitcode"])
    assert detailed.exit_code == 2
    saved = load_plan(out)
    shown = runner.invoke(cli, ["show", str(out), "--output", "json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["plan_id"] == saved.plan_id
    markdown = runner.invoke(cli, ["show", str(out), "--output", "markdown"])
    assert markdown.output.startswith(f"### reconcile plan `{saved.plan_id}`")
    execute(client, saved)
    in_sync = runner.invoke(cli, ["plan", *rosters, "-c", config_path, "--detailed-exitcode"])
    assert in_sync.exit_code == 0, in_sync.output
    assert "No changes. Canvas is in sync with the roster." in in_sync.output


def test_plan_json_output_is_the_document(canvas) -> None:  # type: ignore[no-untyped-def]
    rosters, config_path = EXAMPLES["yaml"]
    result = CliRunner().invoke(cli, ["plan", *rosters, "-c", config_path, "--output", "json"])
    document = json.loads(result.stdout)
    assert document["format_version"] == 1 and document["source"] == "live"
    assert "demo-admin-token" not in result.output


def test_bad_roster_prints_every_problem_and_makes_no_request(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, _ = canvas
    bad = tmp_path / "enrollments.csv"
    bad.write_text(
        "course_id,user_id,role,status\nMATH101-F26,S0001,wizard,active\nMATH101-F26,,student,maybe\n"
    )
    result = CliRunner().invoke(cli, ["plan", str(bad), "-c", EXAMPLES["sis-export"][1]])
    assert result.exit_code == 1
    assert f"{bad}:2" in result.output and f"{bad}:3" in result.output
    assert university.simulator.stats()["total"] == 0


def test_make_plan_raises_roster_invalid_before_fetching(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    bad = tmp_path / "enrollments.csv"
    bad.write_text("course_id,user_id,role,status\nMATH101-F26,S0001,wizard,active\n")
    with pytest.raises(RosterInvalid) as caught:
        make_plan([bad], config=load_config(None), client=client)
    assert caught.value.problems
    assert university.simulator.stats()["total"] == 0


def test_a_course_named_two_ways_is_refused_not_half_dropped(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """MATH101-F26 and canvas:101 are one course; planned apart, each half would drop the other."""
    university, _ = canvas
    roster = tmp_path / "enrollments.csv"
    lines = [line for line in (ROOT / EXAMPLES["sis-export"][0][0]).read_text().splitlines()]
    header, rows = lines[0], lines[1:]
    math = [r for r in rows if r.startswith("MATH101-F26,")]
    other = [r for r in rows if not r.startswith("MATH101-F26,")]
    # every second MATH101 row names the course by its Canvas id and leaves the section out
    halved = [r if i % 2 == 0 else "canvas:101,," + r.split(",", 2)[2] for i, r in enumerate(math)]
    roster.write_text("\n".join([header, *halved, *other]) + "\n")
    plan_file = tmp_path / "plan.json"
    result = CliRunner().invoke(
        cli, ["plan", str(roster), "-c", EXAMPLES["sis-export"][1], "--out", str(plan_file)]
    )
    assert result.exit_code == 1, result.output
    assert (
        f"{roster}:3: canvas:101 and sis_course_id:MATH101-F26 ({roster}:2) are the same Canvas course (id 101)"
        in result.stderr
    )
    assert "nothing was planned" in result.stderr and not plan_file.exists()
    assert university.simulator.stats()["writes"] == 0
    applied = CliRunner().invoke(cli, ["apply", str(roster), "-c", EXAMPLES["sis-export"][1]])
    assert applied.exit_code == 1 and "same Canvas course" in applied.stderr
    assert university.simulator.stats()["writes"] == 0


def test_canvas_error_is_one_clear_line(canvas, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CANVAS_API_TOKEN", "wrong-token")
    rosters, config_path = EXAMPLES["sis-export"]
    result = CliRunner().invoke(cli, ["plan", *rosters, "-c", config_path])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "wrong-token" not in result.output


def test_usage_error_exits_1_not_2(canvas) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["plan", "--no-such-option", "x.csv"])
    assert result.exit_code == 1
    assert CliRunner().invoke(cli, ["show"]).exit_code == 1


def test_guard_tripped_exits_3_and_still_saves(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = tmp_path / "enrollments.csv"
    roster.write_text(
        "course_id,section_id,user_id,role,status\nMATH101-F26,MATH101-F26-01,S0001,student,active\n"
    )
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        cli, ["plan", str(roster), "-c", EXAMPLES["sis-export"][1], "--out", str(out)]
    )
    assert result.exit_code == 3, result.output
    assert "GUARDS TRIPPED" in result.output
    assert load_plan(out).tripped_guards


def test_plan_against_snapshot_makes_no_request_and_says_so(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    rosters, config_path = EXAMPLES["sis-export"]
    live, _ = make_plan(rosters, config=load_config(config_path), client=client)
    snapshot = tmp_path / "current.json"
    with snapshot.open("w", encoding="utf-8") as fh:
        write_snapshot(client.fetch_current(list(live.fingerprints)), fh)
    university.simulator.reset()
    result = CliRunner().invoke(
        cli, ["plan", *rosters, "-c", config_path, "--current", str(snapshot), "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["source"] == f"snapshot:{snapshot}"
    assert university.simulator.stats()["total"] == 0
    assert document["fingerprints"] == live.fingerprints
    assert [op["id"] for op in document["operations"]] == [op.id for op in live.operations]


def test_course_option_restricts_the_plan(canvas) -> None:  # type: ignore[no-untyped-def]
    rosters, config_path = EXAMPLES["sis-export"]
    result = CliRunner().invoke(
        cli, ["plan", *rosters, "-c", config_path, "--course", "MATH101-F26", "--output", "json"]
    )
    document = json.loads(result.stdout)
    assert set(document["fingerprints"]) == {"sis_course_id:MATH101-F26"}
    assert {op["target"]["course"] for op in document["operations"]} == {"sis_course_id:MATH101-F26"}


def test_missing_token_is_one_clear_line(canvas, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CANVAS_API_TOKEN")
    rosters, config_path = EXAMPLES["sis-export"]
    result = CliRunner().invoke(cli, ["plan", *rosters, "-c", config_path])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "CANVAS_API_TOKEN" in lines[0]


def test_show_refuses_a_newer_plan_format(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": 99}))
    result = CliRunner().invoke(cli, ["show", str(path)])
    assert result.exit_code == 1
    assert "format_version 99 is not supported" in result.output


def test_snapshot_without_a_course_warns(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    snapshot = tmp_path / "current.json"
    with snapshot.open("w", encoding="utf-8") as fh:
        write_snapshot(client.fetch_current(["sis_course_id:MATH101-F26"]), fh)
    rosters, config_path = EXAMPLES["sis-export"]
    plan, _ = make_plan(rosters, config=load_config(config_path), current_snapshot=snapshot)
    missing = {w.course for w in plan.warnings if w.code == "snapshot_missing_course"}
    assert "sis_course_id:BIO110-F26" in missing and "sis_course_id:MATH101-F26" not in missing


def test_observer_of_a_student_enrolled_by_the_same_plan(canvas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    university, client = canvas
    roster = tmp_path / "enrollments.csv"
    roster.write_text(
        "course_id,section_id,user_id,role,status,associated_user_id\n"
        "BIO110-F26,BIO110-F26-A,S0002,student,active,\n"
        "BIO110-F26,BIO110-F26-A,P0001,observer,active,S0002\n"
    )
    base = load_config(EXAMPLES["sis-export"][1])
    config = dataclasses.replace(
        base,
        manage=dataclasses.replace(base.manage, roles=("StudentEnrollment", "ObserverEnrollment")),
        policy=dataclasses.replace(base.policy, drop="ignore"),
    )
    plan, _ = make_plan([roster], config=config, client=client)
    student = next(op for op in plan.operations if op.target.user == "sis_user_id:S0002")
    observer = next(op for op in plan.operations if op.target.user == "sis_user_id:P0001")
    # the Users API told the plan the student's Canvas id; the observer still waits for the enroll
    assert observer.request.params["enrollment[associated_user_id]"] == "11"
    assert student.id in observer.depends_on
    execute(client, plan)
    again, _ = make_plan([roster], config=config, client=client)
    assert again.operations == ()


def test_oneroster_delta_never_drops_absent_rows(canvas) -> None:  # type: ignore[no-untyped-def]
    _, client = canvas
    config = load_config("examples/oneroster/reconcile.yaml")
    plan, roster = make_plan(["examples/oneroster/delta"], config=config, client=client)
    assert not roster.complete
    assert plan.policy["policy"]["drop"] == "ignore"
    assert "roster_is_delta" in {w.code for w in plan.warnings}
    assert not any(op.reason == "absent_from_roster" for op in plan.operations)
