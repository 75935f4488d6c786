"""``canvas.inventory: report``: the provisioning report decides which courses need looking at,
and the plan equals the course-by-course plan operation for operation (issue: account-scale
syncs). Real HTTP against the simulator, the real ``reconcile`` commands.

Worlds are generated with Canvas's entanglements (observer links, cross-listed sections,
several SIS logins, facts §14), exported (the in-sync roster), then changed: in the roster
(drops, additions, status and role changes) and in Canvas by hand (enrollments concluded,
deleted or made inactive behind the roster's back).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.cli import cli
from reconcile.sim import Simulator
from reconcile.sim.generate import ADMIN_TOKEN, generate

ENROLLMENT_LISTS = "GET /api/v1/courses/:id/enrollments"


class World:
    """A served simulator, its export as the roster, and a config beside it."""

    def __init__(self, seed: dict[str, Any], workdir: Path) -> None:
        self.simulator = Simulator.from_seed(seed, throttle=False)
        self.simulator.set_faults(report_delay_s=0.2)
        self.workdir = workdir
        self.runner = CliRunner()

    def __enter__(self) -> World:
        self._serving = self.simulator.serve()
        self.url = self._serving.__enter__()
        self.env = {"CANVAS_API_URL": self.url, "CANVAS_API_TOKEN": ADMIN_TOKEN, "NO_COLOR": "1"}
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(*exc)

    def cli(self, *args: str, code: int | tuple[int, ...] = 0) -> Any:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        codes = code if isinstance(code, tuple) else (code,)
        assert result.exit_code in codes, result.output
        return result

    def export(self, *, dates: bool = False) -> Path:
        """The account's export as the roster; without its date columns unless ``dates`` (an SIS
        export that dates nothing: a roster with date columns manages dates, which the report
        cannot show, so every course it names is confirmed)."""
        roster, roles = self.workdir / "enrollments.csv", self.workdir / "roles.yaml"
        self.cli("export", "--account", "self", "--out", str(roster), "--config-out", str(roles))
        if not dates:
            frame = pd.read_csv(roster, dtype=str, keep_default_na=False)
            frame.drop(columns=["start_date", "end_date"]).to_csv(roster, index=False)
        config = yaml.safe_load(roles.read_text(encoding="utf-8")) or {}
        config["state_dir"] = str(self.workdir / "state")
        config.setdefault("guards", {}).update({"max_drops": 100000, "max_drop_percent": 100})
        (self.workdir / "reconcile.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        return roster

    def plan(self, roster: Path, inventory: str, *extra: str) -> dict[str, Any]:
        self.simulator.stats_counter.reset()
        result = self.cli(
            "plan",
            str(roster),
            "-c",
            str(self.workdir / "reconcile.yaml"),
            "--inventory",
            inventory,
            "--output",
            "json",
            *extra,
        )
        document: dict[str, Any] = json.loads(result.stdout)
        document["_served"] = self.simulator.stats()
        return document

    def by_hand(self, method: str, path: str) -> None:
        answer = requests.request(
            method, f"{self.url}{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )
        assert answer.status_code < 400, answer.text


def _churn_roster(roster: Path, rng: random.Random, courses: list[str]) -> None:
    frame = pd.read_csv(roster, dtype=str, keep_default_na=False)
    students = sorted(set(frame.loc[frame["role"] == "student", "user_id"]) - {""})
    for course in courses:
        rows = frame.index[(frame["course_id"] == course) & (frame["role"] == "student")].tolist()
        if not rows:
            continue
        change = rng.choice(["drop", "inactive", "add", "deleted", "teacher", "invited"])
        row = rng.choice(rows)
        if change == "drop":
            frame = frame.drop(index=row)
        elif change in ("inactive", "deleted", "invited"):
            frame.loc[row, "status"] = change
        elif change == "teacher":
            frame.loc[row, "role"] = "teacher"
        else:
            here = set(frame.loc[frame["course_id"] == course, "user_id"])
            fresh = [s for s in students if s not in here]
            if fresh:
                added = frame.loc[row].copy()
                added["user_id"], added["status"] = rng.choice(fresh), "active"
                frame = pd.concat([frame, added.to_frame().T], ignore_index=True)
    frame.to_csv(roster, index=False)


def _churn_canvas(world: World, seed: dict[str, Any], rng: random.Random, n: int) -> None:
    """Hand changes in Canvas the roster does not know of."""
    live = [
        e
        for e in seed["enrollments"]
        if e["workflow_state"] == "active" and e["type"] != "StudentViewEnrollment"
    ]
    for enrollment in rng.sample(live, min(n, len(live))):
        task = rng.choice(["conclude", "delete", "inactivate"])
        world.by_hand(
            "DELETE", f"/api/v1/courses/{enrollment['course_id']}/enrollments/{enrollment['id']}?task={task}"
        )


def _ops(plan: dict[str, Any]) -> list[str]:
    return sorted(f"{op['id']} {op['action']} {op['target']}" for op in plan["operations"])


def _sis_courses(roster: Path) -> list[str]:
    return sorted(set(pd.read_csv(roster, dtype=str, keep_default_na=False)["course_id"]))


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "seed": draw(st.integers(0, 10_000)),
        "courses": draw(st.integers(6, 16)),
        "students": draw(st.integers(2, 8)),
        "sections": draw(st.integers(1, 2)),
        "linked": draw(st.sampled_from([0.0, 0.3])),
        "xlist": draw(st.sampled_from([0.0, 0.2])),
        "logins": draw(st.sampled_from([0.0, 0.2])),
        "roster_churn": draw(st.floats(0.0, 0.5)),
        "canvas_churn": draw(st.integers(0, 4)),
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=worlds())
def test_a_report_plan_has_the_operations_of_a_course_by_course_plan(
    tmp_path_factory, shape: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    seed = generate(
        courses=shape["courses"],
        students_per_course=shape["students"],
        sections_per_course=shape["sections"],
        random_seed=shape["seed"],
        linked_parents=shape["linked"],
        crosslisted_sections=shape["xlist"],
        second_logins=shape["logins"],
    )
    rng = random.Random(shape["seed"])
    with World(seed, tmp_path_factory.mktemp("inventory")) as world:
        roster = world.export()
        courses = _sis_courses(roster)
        _churn_roster(roster, rng, rng.sample(courses, round(len(courses) * shape["roster_churn"])))
        _churn_canvas(world, seed, rng, shape["canvas_churn"])
        by_course = world.plan(roster, "courses")
        by_report = world.plan(roster, "report")
    assert _ops(by_report) == _ops(by_course)
    assert by_report["guards"] == by_course["guards"]
    inventory = by_report["policy"]["inventory"]
    assert inventory["source"] == "report"
    assert by_course["policy"]["inventory"]["source"] == "courses"
    # never a plan against a course it did not confirm: every operation's course was fetched
    confirmed = set(by_report["fingerprints"])
    assert {op["target"]["course"] for op in by_report["operations"]} <= confirmed
    assert inventory["courses_confirmed"] == len(confirmed)
    assert inventory["courses_confirmed"] + inventory["courses_in_sync_by_report"] == len(
        by_course["fingerprints"]
    )
    # and a confirmed course's fingerprint is the course-by-course plan's
    assert {c: by_course["fingerprints"][c] for c in confirmed} == by_report["fingerprints"]


@pytest.mark.slow
def test_an_account_plan_from_the_report_fetches_only_changed_courses_and_applies(tmp_path: Path) -> None:
    seed = generate(courses=120, students_per_course=12, sections_per_course=2, random_seed=3)
    rng = random.Random(3)
    with World(seed, tmp_path) as world:
        roster = world.export()
        changed = rng.sample(_sis_courses(roster), 6)
        _churn_roster(roster, rng, changed)
        by_course = world.plan(roster, "courses")
        by_report = world.plan(roster, "report", "--out", str(tmp_path / "plan.json"))
        assert _ops(by_report) == _ops(by_course) != []
        inventory = by_report["policy"]["inventory"]
        touched = {op["target"]["course"] for op in by_report["operations"]}
        # only courses the roster changed were listed through the Enrollments API (one that only
        # wants an active student invited is confirmed, and may turn out to need nothing)
        assert len(touched) <= inventory["courses_confirmed"] <= len(changed)
        assert by_report["_served"]["requests"].get(ENROLLMENT_LISTS, 0) == inventory["courses_confirmed"]
        assert by_course["_served"]["requests"][ENROLLMENT_LISTS] >= 120
        assert by_report["_served"]["total"] < 0.25 * by_course["_served"]["total"]
        assert any(
            route.startswith("POST /api/v1/accounts/:id/reports")
            for route in by_report["_served"]["requests"]
        )
        # apply passes the stale check (fingerprints of the confirmed courses) and --verify
        applied = world.cli(
            "apply",
            str(tmp_path / "plan.json"),
            "-c",
            str(tmp_path / "reconcile.yaml"),
            "--auto-approve",
            "--verify",
        )
        assert "stale" not in applied.output.lower()
        again = world.plan(roster, "report")
        assert again["operations"] == []


def test_a_roster_that_manages_dates_confirms_every_course_it_names(tmp_path: Path) -> None:
    seed = generate(courses=6, students_per_course=3, random_seed=4)
    with World(seed, tmp_path) as world:
        roster = world.export(dates=True)
        by_report = world.plan(roster, "report")
        by_course = world.plan(roster, "courses")
    inventory = by_report["policy"]["inventory"]
    assert inventory["courses_in_sync_by_report"] == 0
    assert inventory["confirmed_because"] == {"the roster manages dates, which the report does not show": 6}
    assert _ops(by_report) == _ops(by_course)
    assert by_report["fingerprints"] == by_course["fingerprints"]


def test_auto_takes_the_report_above_the_threshold_and_courses_below(tmp_path: Path) -> None:
    seed = generate(courses=8, students_per_course=3, random_seed=5)
    with World(seed, tmp_path) as world:
        roster = world.export()
        config = yaml.safe_load((tmp_path / "reconcile.yaml").read_text(encoding="utf-8"))
        config.setdefault("canvas", {})["report_above"] = 5
        (tmp_path / "reconcile.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        assert world.plan(roster, "auto")["policy"]["inventory"]["source"] == "report"
        config["canvas"]["report_above"] = 50
        (tmp_path / "reconcile.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        assert world.plan(roster, "auto")["policy"]["inventory"]["source"] == "courses"


def test_a_token_that_may_not_run_reports_falls_back_under_auto_and_fails_under_report(
    tmp_path: Path,
) -> None:
    seed = generate(courses=8, students_per_course=3, random_seed=5)
    teacher = next(e for e in seed["enrollments"] if e["type"] == "TeacherEnrollment")
    seed["tokens"].append({"token": "teacher-token", "user_id": teacher["user_id"]})
    with World(seed, tmp_path) as world:
        roster = world.export()
        course = next(c for c in seed["courses"] if c["id"] == teacher["course_id"])
        one = tmp_path / "one.csv"
        frame = pd.read_csv(roster, dtype=str, keep_default_na=False)
        frame[frame["course_id"] == course["sis_course_id"]].to_csv(one, index=False)
        world.env["CANVAS_API_TOKEN"] = "teacher-token"
        config = yaml.safe_load((tmp_path / "reconcile.yaml").read_text(encoding="utf-8"))
        config.setdefault("canvas", {})["report_above"] = 0
        (tmp_path / "reconcile.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        plan = world.plan(one, "auto")
        assert plan["policy"]["inventory"]["source"] == "courses"
        assert "inventory_report_unavailable" in {w["code"] for w in plan["warnings"]}
        refused = world.runner.invoke(
            cli,
            ["plan", str(one), "-c", str(tmp_path / "reconcile.yaml"), "--inventory", "report"],
            env=world.env,
        )
        assert refused.exit_code == 1
        assert "provisioning report" in refused.output and "teacher-token" not in refused.output
