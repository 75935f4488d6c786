"""Issue #11 over real HTTP against the simulator: every removal counts, apply never does what
nobody saw, refusals come before the network, and one state dir whatever the directory."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apply_world import ROOT, sim_env
from click.testing import CliRunner
from terminal import run_on_a_terminal
from test_apply_e2e import run_while_another_holds_the_lock

from reconcile.apply import Journal
from reconcile.cli import cli
from reconcile.sim import Simulator

EXAMPLE = ROOT / "examples" / "sis-export"
SEED = ROOT / "examples" / "sim" / "university.yaml"


def _rows() -> list[dict[str, str]]:
    with open(EXAMPLE / "enrollments.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(rows: list[dict[str, str]], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class Setup:
    """The example SIS export and its config, copied into a folder of the test's own."""

    def __init__(self, university, folder: Path) -> None:  # type: ignore[no-untyped-def]
        self.folder = folder
        self.university = university
        folder.mkdir(parents=True, exist_ok=True)
        config = (EXAMPLE / "reconcile.yaml").read_text(encoding="utf-8")
        self.config = folder / "reconcile.yaml"
        self.config.write_text(config, encoding="utf-8")
        self.env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}

    def roster(self, rows: list[dict[str, str]], name: str = "enrollments.csv") -> Path:
        return _write(rows, self.folder / name)

    def run(self, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, [*args, "-c", str(self.config)], env=self.env, input=input)

    def plan(self, roster: Path, out: str = "plan.json"):  # type: ignore[no-untyped-def]
        result = self.run("plan", str(roster), "--out", str(self.folder / out))
        return result, self.folder / out

    @property
    def writes(self) -> int:
        return int(self.university.simulator.stats()["writes"])


@pytest.fixture()
def setup(university, tmp_path: Path) -> Setup:  # type: ignore[no-untyped-def]
    return Setup(university, tmp_path / "site")


@pytest.mark.parametrize("status", ["deleted", "completed"])
def test_a_roster_flipping_every_row_trips_the_guards_and_apply_writes_nothing(setup, status) -> None:
    rows = [{**row, "status": status} for row in _rows()]
    planned, plan_path = setup.plan(setup.roster(rows))
    assert planned.exit_code == 3, planned.output
    assert "because the roster marks them" in planned.output
    document = json.loads(plan_path.read_text())
    tripped = {g["name"] for g in document["guards"] if g["tripped"]}
    assert {"course_emptied", "protected_roles"} <= tripped
    applied = setup.run("apply", str(plan_path))
    assert applied.exit_code == 3, applied.output
    assert "--hold-drops" in applied.output
    assert setup.writes == 0


def test_an_explicit_delete_of_a_teacher_trips_protected_roles(setup) -> None:
    rows = [{**row, "status": "deleted"} if row["user_id"] == "T1001" else row for row in _rows()]
    planned, plan_path = setup.plan(setup.roster(rows))
    assert planned.exit_code == 3, planned.output
    protected = next(g for g in json.loads(plan_path.read_text())["guards"] if g["name"] == "protected_roles")
    assert protected["tripped"] and protected["figures"]["stated"] == 1
    assert "sis_user_id:T1001" in protected["message"]
    assert setup.run("apply", str(plan_path)).exit_code == 3
    assert setup.writes == 0


def test_hold_drops_applies_the_rest_and_allow_drops_later_finishes_without_repeats(setup) -> None:
    rows = [{**row, "status": "deleted"} if row["user_id"] == "T1001" else row for row in _rows()]
    _, plan_path = setup.plan(setup.roster(rows))
    document = json.loads(plan_path.read_text())
    removals = [
        op
        for op in document["operations"]
        if op["action"] in ("conclude", "inactivate", "delete")
        and not op["move_id"]
        and (op["before"] or {}).get("state") in ("active", "invited", "creation_pending", "inactive")
    ]
    assert removals and len(removals) < len(document["operations"])
    held = setup.run("apply", str(plan_path), "--hold-drops")
    assert held.exit_code == 3, held.output
    assert f"Held ({len(removals)})" in held.output and "sis_user_id:T1001" in held.output
    first_writes = setup.writes
    assert first_writes == len(document["operations"]) - len(removals)
    history = setup.run("history", "--output", "json")
    run = json.loads(history.output)[0]
    assert run["outcome"] == "held" and run["overrides"]["hold_drops"] is True
    detail = json.loads(setup.run("history", "--run", run["run_id"], "--output", "json").output)
    assert sorted(o["op_id"] for o in detail["operations"] if o["status"] == "held") == sorted(
        op["id"] for op in removals
    )
    finished = setup.run("apply", str(plan_path), "--allow-drops", "--output", "json")
    assert finished.exit_code == 0, finished.output
    counts = json.loads(finished.output)["counts"]
    applied = sum(c.get("applied", 0) for c in counts.values())
    assert applied == len(removals)
    assert setup.writes == first_writes + len(removals)  # no operation written twice
    again = setup.run("plan", str(setup.folder / "enrollments.csv"), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_a_guarded_plan_against_an_unreachable_canvas_exits_3_at_once(tmp_path: Path) -> None:
    """The refusal needs nothing from Canvas, so it must not wait for Canvas (it used to take ~28 s)."""
    simulator = Simulator.from_seed(SEED)
    site = tmp_path / "site"
    site.mkdir()
    rows = [{**row, "status": "deleted"} for row in _rows()]
    roster = _write(rows, site / "enrollments.csv")
    (site / "reconcile.yaml").write_text((EXAMPLE / "reconcile.yaml").read_text(encoding="utf-8"))
    with simulator.serve() as url:
        env = {"CANVAS_API_URL": url, "CANVAS_API_TOKEN": "demo-admin-token"}
        planned = CliRunner().invoke(
            cli,
            ["plan", str(roster), "-c", str(site / "reconcile.yaml"), "--out", str(site / "plan.json")],
            env=env,
        )
        assert planned.exit_code == 3, planned.output
    # Canvas is gone now: nothing listens on that port any more
    started = time.monotonic()
    applied = CliRunner().invoke(
        cli, ["apply", str(site / "plan.json"), "-c", str(site / "reconcile.yaml")], env=env
    )
    elapsed = time.monotonic() - started
    assert applied.exit_code == 3, applied.output
    assert "safety guard(s) tripped" in applied.output
    assert elapsed < 1.0, elapsed  # a fetch attempt would retry for many seconds first


def test_a_plan_for_another_canvas_exits_1_before_any_request(setup, tmp_path: Path) -> None:
    _, plan_path = setup.plan(setup.roster(_rows()))
    with socket.socket() as probe:  # a port with nothing behind it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**setup.env, "CANVAS_API_URL": f"http://127.0.0.1:{port}"}
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["apply", str(plan_path), "-c", str(setup.config)], env=env)
    assert result.exit_code == 1, result.output
    assert f"the plan was made for {setup.university.url}" in result.output
    assert time.monotonic() - started < 1.0  # connecting there would be refused and retried for seconds
    assert setup.writes == 0


def test_refresh_on_a_terminal_shows_the_difference_and_applies_only_on_yes(setup) -> None:
    _, plan_path = setup.plan(setup.roster(_rows()))
    _hand_edit(setup)
    env = dict(os.environ, **setup.env, TERM="xterm")
    cmd = ["apply", str(plan_path), "-c", str(setup.config), "--refresh"]
    code, screen = run_on_a_terminal(
        cmd, env=env, cwd=setup.folder, prompt=b"Only 'yes' will be accepted", answer="no"
    )
    assert code == 1, screen
    assert "Compared with the reviewed plan" in screen and "not approved" in screen
    assert setup.writes == 1  # the hand edit only
    code, screen = run_on_a_terminal(
        cmd, env=env, cwd=setup.folder, prompt=b"Only 'yes' will be accepted", answer="yes"
    )
    assert code == 0, screen
    assert setup.writes > 1


def test_apply_and_history_find_one_state_dir_from_any_directory(setup, tmp_path: Path) -> None:
    """cron starts in $HOME: a relative state_dir belongs to the config file, not the working directory."""
    _, plan_path = setup.plan(setup.roster(_rows()))
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    env = sim_env(setup.university.url, setup.university.token)
    env["RECONCILE_CONFIG"] = str(setup.config)
    applied = subprocess.run(
        [sys.executable, "-m", "reconcile", "apply", str(plan_path)],
        env=env, cwd=elsewhere, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert (setup.folder / ".reconcile" / "journal.sqlite").exists()
    assert not (elsewhere / ".reconcile").exists()
    listed = subprocess.run(
        [sys.executable, "-m", "reconcile", "history", "--output", "json"],
        env={k: v for k, v in env.items() if k != "RECONCILE_CONFIG"},
        cwd=setup.folder,  # found as ./reconcile.yaml here
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert [r["outcome"] for r in json.loads(listed.stdout)] == ["ok"]


def test_two_applies_of_one_config_from_two_directories_exclude_each_other(setup, tmp_path: Path) -> None:
    _, plan_path = setup.plan(setup.roster(_rows()))
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    cmd = [sys.executable, "-m", "reconcile", "apply", str(plan_path), "-c", str(setup.config)]

    class World:
        sim = setup.university.simulator
        url = setup.university.url
        token = setup.university.token

    first, second = run_while_another_holds_the_lock(
        World, cmd, cmd, state_dir=setup.folder / ".reconcile", cwd=(one, two)
    )
    assert second.returncode == 6, second.stderr
    assert f"pid {first.pid}" in second.stderr
    with Journal.in_state_dir(setup.folder / ".reconcile") as journal:
        assert [r.outcome for r in journal.runs()] == ["ok"]


def _hand_edit(setup: Setup) -> None:
    """A teacher deactivates one active student of MATH101 by hand after the plan was made."""
    import requests

    sim = setup.university.simulator
    row = next(
        e for e in sim.enrollments() if e["workflow_state"] == "active" and e["type"] == "StudentEnrollment"
    )
    answer = requests.delete(
        f"{setup.university.url}/api/v1/courses/{row['course_id']}/enrollments/{row['id']}",
        params={"task": "inactivate"},
        headers={"Authorization": f"Bearer {setup.university.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_unknown_users_and_sections_are_plan_warnings_and_apply_fails_nothing(setup) -> None:
    rows = _rows()
    header = dict.fromkeys(rows[0], "")
    math = {**header, "course_id": "MATH101-F26", "role": "student", "status": "active"}
    ghost = {**math, "section_id": "MATH101-F26-01", "user_id": "S9999"}  # no such user in Canvas
    watcher = {**math, "section_id": "MATH101-F26-01", "user_id": "P0001", "role": "observer"}
    watcher["associated_user_id"] = "S9999"
    rows = [
        {**row, "section_id": "MATH101-F26-99"}
        if row["user_id"] == "S0002" and row["course_id"] == "MATH101-F26"
        else row
        for row in rows
    ]  # a section MATH101 does not have, for a student who is enrolled in another one
    rows += [ghost, watcher]
    roster = setup.roster(rows)
    planned, plan_path = setup.plan(roster)
    assert planned.exit_code == 0, planned.output
    document = json.loads(plan_path.read_text())
    warnings = {w["code"]: w for w in document["warnings"]}
    # the header is line 1, so the last two rows (ghost, watcher) are lines len(rows) and len(rows) + 1
    unknown = [w for w in document["warnings"] if w["code"] == "unknown_user"]
    assert sorted(w["origin"][0] for w in unknown) == [f"{roster}:{len(rows)}", f"{roster}:{len(rows) + 1}"]
    assert "Canvas has no user sis_user_id:S9999" in unknown[0]["message"]
    section = warnings["unknown_section"]
    assert "sis_section_id:MATH101-F26-99 is not a section of sis_course_id:MATH101-F26" in section["message"]
    assert section["origin"] and section["origin"][0].startswith(str(roster))
    targets = {(op["target"]["user"], op["action"]) for op in document["operations"]}
    assert not any(user in ("sis_user_id:S9999", "sis_user_id:S0002") for user, _ in targets)
    applied = setup.run("apply", str(plan_path), "--output", "json")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["failures"] == []
    s0002 = [e for e in setup.university.simulator.enrollments() if e["user_id"] == _user_id(setup, "S0002")]
    assert s0002 and all(e["workflow_state"] != "deleted" for e in s0002)  # left as it was


def test_a_token_that_may_not_look_users_up_checks_them_course_by_course(setup) -> None:
    """users_controller#api_show shows a teacher nobody but themself (404 for everyone else), so
    their plan asks each course's enrollment list filtered by user instead: unknown ones still
    become warnings, known ones are not guessed to be unknown."""
    rows = [row for row in _rows() if row["course_id"] == "MATH101-F26"]
    rows.append({**rows[-1], "user_id": "S0020", "associated_user_id": "", "role": "student"})
    rows.append({**rows[-1], "user_id": "S9999", "associated_user_id": "", "role": "student"})
    roster = setup.roster(rows)
    env = {**setup.env, "CANVAS_API_TOKEN": setup.university.teacher_token}
    result = CliRunner().invoke(
        cli, ["plan", str(roster), "-c", str(setup.config), "--output", "json"], env=env
    )
    assert result.exit_code in (0, 3), result.output
    warnings = json.loads(result.stdout)["warnings"]
    unknown = [w for w in warnings if w["code"] == "unknown_user"]
    assert [w["user"] for w in unknown] == ["sis_user_id:S9999"]
    assert "users_not_checked" not in {w["code"] for w in warnings}


def _user_id(setup: Setup, sis: str) -> int:
    import requests

    answer = requests.get(
        f"{setup.university.url}/api/v1/users/sis_user_id:{sis}",
        headers={"Authorization": f"Bearer {setup.university.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["id"])
