"""Issue #13 end to end over real HTTP: observer links (facts §14.1) and cross-listed sections
(facts §14.2) in a world an SIS export really meets.

The world: ENG2-A with two sections; ENG2-B whose section ENG2-02 is cross-listed into
ENG2-COMBINED (which has a section of its own); parents P1 (linked to S1, in ENG2-A) and P2
(linked to S4, in the cross-listed section). The roster is what an SIS export produces: the
original course ids, no rows for linked observers; it moves S1 to another section, makes S5
inactive, adds S7 to the cross-listed section and S8 to ENG2-B without a section.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.sim import Simulator

TERM = {
    "id": 1,
    "name": "Fall",
    "sis_term_id": "F26",
    "start_at": "2026-08-24T00:00:00Z",
    "end_at": "2026-12-19T00:00:00Z",
}


def _user(uid: int, sis: str) -> dict[str, Any]:
    return {
        "id": uid,
        "name": sis,
        "sortable_name": sis,
        "sis_user_id": sis,
        "login_id": f"{sis.lower()}@x.edu",
    }


def _student(eid: int, uid: int, course: int, section: int, **extra: Any) -> dict[str, Any]:
    row = {"id": eid, "user_id": uid, "course_id": course, "course_section_id": section}
    row.update({"type": "StudentEnrollment", "workflow_state": "active", **extra})
    return row


SEED: dict[str, Any] = {
    "now": "2026-10-15T12:00:00Z",
    "accounts": [{"id": 1, "name": "Root", "sis_account_id": "ROOT"}],
    "terms": [TERM],
    "courses": [
        {
            "id": 301,
            "name": "English 2 A",
            "sis_course_id": "ENG2-A",
            "account_id": 1,
            "enrollment_term_id": 1,
            "workflow_state": "available",
        },
        {
            "id": 302,
            "name": "English 2 B",
            "sis_course_id": "ENG2-B",
            "account_id": 1,
            "enrollment_term_id": 1,
            "workflow_state": "available",
        },
        {
            "id": 303,
            "name": "English 2 combined",
            "sis_course_id": "ENG2-COMBINED",
            "account_id": 1,
            "enrollment_term_id": 1,
            "workflow_state": "available",
        },
    ],
    "sections": [
        {"id": 401, "course_id": 301, "name": "A-01", "sis_section_id": "ENG2-A-01"},
        {"id": 405, "course_id": 301, "name": "A-02", "sis_section_id": "ENG2-A-02"},
        {"id": 403, "course_id": 302, "name": "B-01", "sis_section_id": "ENG2-B-01"},
        {"id": 402, "course_id": 303, "nonxlist_course_id": 302, "name": "02", "sis_section_id": "ENG2-02"},
        {"id": 404, "course_id": 303, "name": "C-00", "sis_section_id": "ENG2-C-00"},
    ],
    "users": [
        {
            "id": 1,
            "name": "Admin",
            "sortable_name": "Admin",
            "sis_user_id": "ADMIN",
            "login_id": "admin@x.edu",
        },
        _user(2, "T1"),
        *(_user(10 + n, f"S{n}") for n in range(1, 9)),
        _user(31, "P1"),
        _user(32, "P2"),
    ],
    "enrollments": [
        {
            "id": 5001,
            "user_id": 2,
            "course_id": 301,
            "course_section_id": 401,
            "type": "TeacherEnrollment",
            "workflow_state": "active",
        },
        _student(5002, 11, 301, 401),
        _student(5003, 12, 301, 401),
        _student(5004, 13, 301, 405),
        _student(5005, 14, 303, 402),
        _student(5006, 15, 303, 402),
        _student(5007, 16, 303, 404),
    ],
    "observer_links": [{"observer_id": 31, "student_id": 11}, {"observer_id": 32, "student_id": 14}],
    "tokens": [{"token": "admin-token", "user_id": 1, "admin": True}],
}

ROSTER = [
    ("ENG2-A", "ENG2-A-01", "T1", "teacher", "active"),
    ("ENG2-A", "ENG2-A-02", "S1", "student", "active"),  # moved from A-01
    ("ENG2-A", "ENG2-A-01", "S2", "student", "active"),
    ("ENG2-A", "ENG2-A-02", "S3", "student", "active"),
    ("ENG2-B", "ENG2-02", "S4", "student", "active"),  # cross-listed into ENG2-COMBINED
    ("ENG2-B", "ENG2-02", "S5", "student", "inactive"),
    ("ENG2-B", "ENG2-02", "S7", "student", "active"),  # new, in the cross-listed section
    ("ENG2-B", "", "S8", "student", "active"),  # new, no section
    ("ENG2-COMBINED", "ENG2-C-00", "S6", "student", "active"),
]


@pytest.fixture(params=["observers-unmanaged", "observers-managed"])
def world(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    simulator = Simulator.from_seed(json.loads(json.dumps(SEED)))
    roster = tmp_path / "enrollments.csv"
    with open(roster, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["course_id", "section_id", "user_id", "role", "status"])
        writer.writerows(ROSTER)
    config = tmp_path / "reconcile.yaml"
    roles = "[student, teacher, observer]" if request.param == "observers-managed" else "[student, teacher]"
    config.write_text(f"manage:\n  roles: {roles}\nguards:\n  max_drop_percent: 100\n", encoding="utf-8")
    with simulator.serve() as url:
        env = {"CANVAS_API_URL": url, "CANVAS_API_TOKEN": "admin-token"}

        def run(*args: str):  # type: ignore[no-untyped-def]
            return CliRunner().invoke(cli, [*args, "-c", str(config)], env=env)

        yield simulator, run, roster, tmp_path


def _rows(simulator: Simulator, user_id: int) -> list[dict[str, Any]]:
    return sorted((e for e in simulator.enrollments() if e["user_id"] == user_id), key=lambda e: e["id"])


def test_a_roster_of_an_sis_export_converges_without_fighting_canvas(world) -> None:
    simulator, run, roster, tmp = world
    planned = run("plan", str(roster), "--out", str(tmp / "plan.json"), "--output", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads((tmp / "plan.json").read_text())
    ops = plan["operations"]
    # nothing is ever planned on an observer row: links keep them
    assert not [op for op in ops if op["target"]["role"] == "ObserverEnrollment"]
    codes = [w["code"] for w in plan["warnings"]]
    assert "crosslisted_section" in codes
    by_user = {(op["target"]["user"], op["action"]) for op in ops}
    assert ("sis_user_id:S4", "enroll") not in by_user  # found where it is now, not planned again
    assert ("sis_user_id:S5", "inactivate") in by_user
    assert ("sis_user_id:S7", "enroll") in by_user and ("sis_user_id:S8", "enroll") in by_user
    assert not [
        op for op in ops if op["target"]["course"] == "sis_course_id:ENG2-COMBINED"
    ]  # S4, S5 not absent
    s5 = next(op for op in ops if op["target"]["user"] == "sis_user_id:S5")
    assert s5["request"]["path"] == "/api/v1/courses/303/enrollments/5006"  # acted on where Canvas has it
    s8 = next(op for op in ops if op["target"]["user"] == "sis_user_id:S8")
    assert s8["request"]["path"] == "/api/v1/sections/sis_section_id:ENG2-B-01/enrollments"  # still in ENG2-B
    if plan["policy"]["scope"].get("fetch", {}).get("links"):
        s1 = next(op for op in ops if op["target"]["user"] == "sis_user_id:S1" and op["action"] == "enroll")
        assert s1["after"]["linked_observers"] == [31]
        assert plan["summary"]["observers_kept_by_canvas"] == 2

    applied = run("apply", str(tmp / "plan.json"), "--verify")
    assert applied.exit_code == 0, applied.output
    assert "Verify: Canvas matches" in applied.output
    again = run("plan", str(roster), "--detailed-exitcode")
    assert again.exit_code == 0, again.output

    # the student move left exactly one observer row per link, in the new section, kept by Canvas
    p1 = _rows(simulator, 31)
    live = [e for e in p1 if e["workflow_state"] == "active"]
    assert [(e["course_section_id"], e["associated_user_id"]) for e in live] == [(405, 11)]
    # S7 landed in the course the section is in now; S8 in a section still in ENG2-B
    assert [(e["course_id"], e["course_section_id"]) for e in _rows(simulator, 17)] == [(303, 402)]
    assert [(e["course_id"], e["course_section_id"]) for e in _rows(simulator, 18)] == [(302, 403)]
    assert [e["workflow_state"] for e in _rows(simulator, 14)] == ["active"]  # S4 untouched
    # no request of the tool ever touched an observer row (Canvas mirrored the move itself)
    journal_ops = json.loads(run("history", "--output", "json").output)
    assert journal_ops and journal_ops[0]["outcome"] == "ok"

    writes = simulator.stats()["writes"]
    second = run("apply", str(tmp / "plan.json"))
    assert second.exit_code == 0, second.output
    assert simulator.stats()["writes"] == writes  # a second apply writes nothing


def test_sectionless_rows_of_a_course_with_no_section_left_are_a_roster_error(world) -> None:
    simulator, run, roster, tmp = world
    simulator_call = simulator  # ENG2-B-01 cross-listed away too: ENG2-B keeps no section of its own
    import requests

    answer = requests.post(
        f"{simulator_call.url}/api/v1/sections/403/crosslist/303",
        headers={"Authorization": "Bearer admin-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    planned = run("plan", str(roster))
    assert planned.exit_code == 1, planned.output
    assert f"{roster}:9: column section_id:" in planned.output
    assert "has no section of its own left" in planned.output
    assert simulator.stats()["writes"] == 1  # only the cross-listing above


def test_exporting_and_planning_back_is_a_no_op_with_cross_listed_sections_and_links(world) -> None:
    simulator, run, roster, tmp = world
    courses = ["--course", "ENG2-A", "--course", "ENG2-B", "--course", "ENG2-COMBINED"]
    exported = run("export", *courses, "--out", str(tmp / "export.csv"))
    assert exported.exit_code == 0, exported.output
    text = (tmp / "export.csv").read_text(encoding="utf-8")
    assert "ENG2-COMBINED,ENG2-02," in text  # the cross-listed section, in the course it is in now
    back = run("plan", str(tmp / "export.csv"), "--detailed-exitcode")
    assert back.exit_code == 0, back.output
    assert simulator.stats()["writes"] == 0
