"""Issue #14 end to end over real HTTP: people with several SIS logins (facts §14.3), concluded
courses and terms (§7.5, §14.4), date-based state (§7.3, §7.4), permissions (§14.5)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.sim import Simulator

NOW = "2026-10-15T12:00:00Z"
FALL = {"id": 1, "name": "Fall", "start_at": "2026-08-24T00:00:00Z", "end_at": "2026-12-19T00:00:00Z"}
SPRING = {
    "id": 2,
    "name": "Spring 2026",
    "start_at": "2026-01-12T00:00:00Z",
    "end_at": "2026-05-15T00:00:00Z",
}
NEXT = {"id": 3, "name": "Spring 2027", "start_at": "2027-01-11T00:00:00Z", "end_at": "2027-05-14T00:00:00Z"}


def _course(cid: int, sis: str, term: int, state: str = "available") -> dict[str, Any]:
    return {
        "id": cid,
        "name": sis,
        "sis_course_id": sis,
        "account_id": 1,
        "enrollment_term_id": term,
        "workflow_state": state,
    }


def _user(uid: int, sis: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": uid,
        "name": sis,
        "sortable_name": sis,
        "sis_user_id": sis,
        "login_id": f"{sis.lower()}@x.edu",
        **extra,
    }


def _row(eid: int, uid: int, course: int, kind: str = "StudentEnrollment", **extra: Any) -> dict[str, Any]:
    return {"id": eid, "user_id": uid, "course_id": course, "course_section_id": course + 100, "type": kind,
            "workflow_state": "active", **extra}  # fmt: skip


def _seed() -> dict[str, Any]:
    return {
        "now": NOW,
        "accounts": [{"id": 1, "name": "Root", "sis_account_id": "ROOT"}],
        "terms": [FALL, SPRING, NEXT],
        "courses": [
            _course(301, "CUR", 1),
            _course(302, "DONE", 1, "completed"),  # concluded by its state
            _course(303, "LAST", 2),  # its term ended
            _course(304, "SOON", 3),  # its term has not started
        ],
        "sections": [
            {"id": c + 100, "course_id": c, "name": f"s{c}", "sis_section_id": f"S-{c}"}
            for c in range(301, 305)
        ],
        "users": [
            _user(1, "ADMIN"),
            _user(2, "T1"),
            # one person with two SIS logins: the list shows the first, the roster may use the second
            _user(10, "OLD10", pseudonyms=[{"sis_user_id": "NEW10", "login_id": "new10@x.edu"}]),
            _user(11, "S11"),
            _user(12, "S12"),
            _user(13, "S13"),
            _user(20, "P20"),
        ],
        "enrollments": [
            _row(5001, 2, 301, "TeacherEnrollment"),
            _row(5002, 10, 301),
            _row(5003, 11, 301),
            _row(5004, 20, 301, "ObserverEnrollment", associated_user_id=11),
            _row(5005, 12, 304),  # active, but its term starts next year: pending by date
            _row(5006, 2, 304, "TeacherEnrollment"),
        ],
        "role_overrides": [{"role_id": 4, "permission": "manage_admin_users", "enabled": False}],
        "tokens": [
            {"token": "admin-token", "user_id": 1, "admin": True},
            {"token": "teacher-token", "user_id": 2},
        ],
    }


class World:
    def __init__(self, tmp: Path, url: str, simulator: Simulator) -> None:
        self.tmp, self.url, self.simulator = tmp, url, simulator
        self.config = tmp / "reconcile.yaml"
        self.config.write_text("guards:\n  max_drop_percent: 100\n", encoding="utf-8")

    def roster(
        self, rows: list[tuple[str, ...]], *, roles: str | None = None, columns: tuple[str, ...] = ()
    ) -> Path:
        if roles:
            self.config.write_text(
                f"manage:\n  roles: {roles}\nguards:\n  max_drop_percent: 100\n", encoding="utf-8"
            )
        path = self.tmp / "enrollments.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["course_id", "section_id", "user_id", "role", "status", *columns])
            writer.writerows(rows)
        return path

    def run(self, *args: str, token: str = "admin-token"):  # type: ignore[no-untyped-def]
        env = {"CANVAS_API_URL": self.url, "CANVAS_API_TOKEN": token}
        return CliRunner().invoke(cli, [*args, "-c", str(self.config)], env=env)

    def plan(self, roster: Path, *, token: str = "admin-token") -> dict[str, Any]:
        out = self.tmp / "plan.json"
        result = self.run("plan", str(roster), "--out", str(out), token=token)
        assert result.exit_code in (0, 3), result.output
        return json.loads(out.read_text())

    @property
    def writes(self) -> int:
        return int(self.simulator.stats()["writes"])


def _world(tmp_path: Path):  # type: ignore[no-untyped-def]
    simulator = Simulator.from_seed(_seed())
    return simulator


@pytest.mark.parametrize("token", ["admin-token", "teacher-token"])
def test_a_student_named_by_another_of_their_sis_ids_is_left_as_is(tmp_path: Path, token: str) -> None:
    """facts §14.3: the list shows the login Canvas picks (NEW10); the roster's OLD10 is the same
    Canvas user, found through the Users API (admins) or the course's enrollment list filtered by
    user (a teacher, whom the Users API shows nobody else)."""
    simulator = _world(tmp_path)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        listed = {e["user_id"]: e for e in world_enrollments(url)}
        assert listed[10]["sis_user_id"] == "NEW10"  # so the roster's OLD10 is not what the list shows
        rows = [("CUR", "S-301", "OLD10", "student", "active"), ("CUR", "S-301", "S11", "student", "active")]
        roster = world.roster(rows, roles="[student]")
        plan = world.plan(roster, token=token)
        assert plan["operations"] == [], plan["operations"]
        assert not any(g["tripped"] for g in plan["guards"])
        assert world.run("plan", str(roster), "--detailed-exitcode", token=token).exit_code == 0
        assert world.run("apply", str(roster), "--auto-approve", token=token).exit_code == 0
        assert world.writes == 0


def world_enrollments(url: str) -> list[dict[str, Any]]:
    import requests

    answer = requests.get(
        f"{url}/api/v1/courses/sis_course_id:CUR/enrollments",
        headers={"Authorization": "Bearer admin-token"},
        timeout=10,
    )
    return list(answer.json())


def test_one_person_named_by_two_of_their_ids_is_a_roster_error(tmp_path: Path) -> None:
    simulator = _world(tmp_path)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        roster = world.roster(
            [("CUR", "S-301", "NEW10", "student", "active"), ("CUR", "S-301", "OLD10", "student", "active")]
        )
        result = world.run("plan", str(roster))
        assert result.exit_code == 1, result.output
        assert "are the same Canvas user (id 10)" in result.output and f"{roster}:" in result.output


def test_enrollments_into_concluded_courses_are_not_planned_and_apply_fails_nothing(tmp_path: Path) -> None:
    simulator = _world(tmp_path)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        rows = [
            ("CUR", "S-301", "OLD10", "student", "active"),
            ("CUR", "S-301", "S11", "student", "active"),
            ("CUR", "S-301", "S13", "student", "active"),  # an enroll Canvas takes
            ("DONE", "S-302", "S13", "student", "active"),  # course completed
            ("LAST", "S-303", "S13", "student", "active"),  # term ended 2026-05-15
        ]
        plan = world.plan(world.roster(rows))
        targets = {(op["target"]["course"], op["action"]) for op in plan["operations"]}
        assert targets == {("sis_course_id:CUR", "enroll")}
        concluded = {w["course"]: w["message"] for w in plan["warnings"] if w["code"] == "course_concluded"}
        assert set(concluded) == {"sis_course_id:DONE", "sis_course_id:LAST"}
        assert "concluded on 2026-05-15 (its term ended)" in concluded["sis_course_id:LAST"]
        assert "its state is completed" in concluded["sis_course_id:DONE"]
        applied = world.run("apply", str(tmp_path / "plan.json"), "--output", "json")
        assert applied.exit_code == 0, applied.output
        assert json.loads(applied.output)["failures"] == []


def test_a_term_dated_enrollment_is_planned_by_its_effective_state(tmp_path: Path) -> None:
    """facts §7.3/§7.4: S12 is workflow-active in a course whose term starts next year, so Canvas
    treats it as pending and a POST can turn it into an invitation; the plan's after is what
    Canvas will list."""
    simulator = _world(tmp_path)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        rows = [("SOON", "S-304", "S12", "student", "invited"), ("SOON", "S-304", "T1", "teacher", "active")]
        plan = world.plan(world.roster(rows))
        (op,) = plan["operations"]
        assert op["action"] == "restore" and op["after"]["state"] == "invited"
        assert "cannot_demote" not in {w["code"] for w in plan["warnings"]}
        assert world.run("apply", str(tmp_path / "plan.json")).exit_code == 0
        (row,) = [e for e in simulator.enrollments() if e["id"] == 5005]
        assert row["workflow_state"] == "invited"
        assert world.run("plan", str(tmp_path / "enrollments.csv"), "--detailed-exitcode").exit_code == 0


def test_a_teacher_tokens_plan_warns_about_the_observer_conclusions_it_cannot_make(tmp_path: Path) -> None:
    """facts §14.5: concluding an observer needs manage_admin_users, which this school's teachers
    lack; the plan says so instead of apply meeting the 401s."""
    simulator = _world(tmp_path)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        rows = [
            ("CUR", "S-301", "T1", "teacher", "active"),
            ("CUR", "S-301", "OLD10", "student", "active"),
            ("CUR", "S-301", "S11", "student", "active"),
        ]  # P20's observer row is absent: concluded by the drop policy
        roster = world.roster(rows, roles="[student, teacher, observer]")
        plan = world.plan(roster, token="teacher-token")
        assert [(op["action"], op["target"]["role"]) for op in plan["operations"]] == [
            ("conclude", "ObserverEnrollment")
        ]
        refused = [w["message"] for w in plan["warnings"] if w["code"] == "not_permitted"]
        assert refused == [
            "this token may not conclude ObserverEnrollment enrollments in sis_course_id:CUR (it needs "
            "manage_admin_users): 1 operation would be refused at apply"
        ]
        admin = world.plan(roster)
        assert "not_permitted" not in {w["code"] for w in admin["warnings"]}


def test_an_unpublished_courses_invitation_is_stored_pending_and_plans_back_in_sync(tmp_path: Path) -> None:
    seed = _seed()
    seed["courses"][0]["workflow_state"] = "created"  # unpublished
    simulator = Simulator.from_seed(seed)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        roster = world.roster([("CUR", "S-301", "S13", "student", "invited")], roles="[student]")
        world.config.write_text("manage:\n  roles: [student]\npolicy:\n  drop: ignore\n", encoding="utf-8")
        plan = world.plan(roster)
        assert [op["action"] for op in plan["operations"]] == ["enroll"]
        assert world.run("apply", str(tmp_path / "plan.json")).exit_code == 0
        (row,) = [e for e in simulator.enrollments() if e["user_id"] == 13]
        assert row["workflow_state"] == "creation_pending"  # course.rb: invited becomes pending
        assert world.run("plan", str(roster), "--detailed-exitcode").exit_code == 0


def test_a_token_without_read_reports_gets_no_last_attended_put(tmp_path: Path) -> None:
    """facts §14.5: without read_reports last_attended_at is absent, not null: unknown."""
    seed = _seed()
    seed["role_overrides"].append({"role_id": 4, "permission": "read_reports", "enabled": False})
    simulator = Simulator.from_seed(seed)
    with simulator.serve() as url:
        world = World(tmp_path, url, simulator)
        when = "2026-10-01T00:00:00Z"
        rows = [
            ("CUR", "S-301", "S11", "student", "active", when),
            ("CUR", "S-301", "OLD10", "student", "active", when),
        ]
        roster = world.roster(rows, roles="[student]", columns=("last_attended_at",))
        world.config.write_text("manage:\n  roles: [student]\npolicy:\n  drop: ignore\n", encoding="utf-8")
        teacher = world.plan(roster, token="teacher-token")
        assert teacher["operations"] == []
        (warning,) = [w for w in teacher["warnings"] if w["code"] == "last_attended_unknown"]
        assert "for 2 enrollments" in warning["message"]
        admin = world.plan(roster)
        assert [op["action"] for op in admin["operations"]] == ["set_last_attended"] * 2
