"""Seed loading and validation, the generator, and the `reconcile sim` commands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from reconcile.cli.sim import sim as sim_command
from reconcile.sim import SeedError, Simulator
from reconcile.sim.generate import ADMIN_TOKEN, generate

SEED = Path(__file__).resolve().parents[2] / "examples" / "sim" / "university.yaml"


def _minimal() -> dict[str, Any]:
    return {
        "accounts": [{"id": 1}],
        "courses": [{"id": 5}],
        "users": [{"id": 7, "sis_user_id": "u7"}],
        "enrollments": [{"id": 1, "user_id": 7, "course_id": 5}],
        "tokens": [{"token": "t", "user_id": 7, "admin": True}],
    }


def test_minimal_seed_gets_canvas_defaults() -> None:
    sim = Simulator.from_seed(_minimal())
    (row,) = sim.enrollments()
    assert (row["type"], row["role_id"], row["workflow_state"]) == ("StudentEnrollment", 3, "active")
    section = sim.store.sections[row["course_section_id"]]
    assert section.default_section and section.course_id == 5
    assert sim.store.courses[5].workflow_state == "available"


def test_example_university_loads_with_every_state() -> None:
    rows = Simulator.from_seed(SEED).enrollments()
    states = {r["workflow_state"] for r in rows}
    assert states == {"active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted"}
    assert any(r["type"] == "StudentViewEnrollment" for r in rows)
    assert any(r["temporary_enrollment_source_user_id"] for r in rows)
    assert any(r["associated_user_id"] for r in rows)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["enrollments"][0].update(type="Bogus"), "enrollments/0/type"),
        (lambda d: d["enrollments"][0].update(colour="red"), "Additional properties"),
        (lambda d: d["users"][0].pop("id"), "'id' is a required property"),
        (lambda d: d["enrollments"][0].update(user_id=99), "user 99 does not exist"),
        (
            lambda d: d["enrollments"].append({"id": 2, "user_id": 7, "course_id": 5}),
            "same user/type/role/section",
        ),
        (
            lambda d: d["enrollments"][0].update(associated_user_id=7),
            "associated_user_id needs an ObserverEnrollment",
        ),
        (lambda d: d["courses"][0].update(account_id=9), "account_id 9 does not exist"),
        (lambda d: d["tokens"][0].update(user_id=8), "tokens/0: user_id 8 does not exist"),
    ],
)
def test_invalid_seeds_are_reported_clearly(change: Any, expected: str) -> None:
    doc = _minimal()
    change(doc)
    with pytest.raises(SeedError) as info:
        Simulator.from_seed(doc)
    assert expected in str(info.value)


def test_seed_from_json_and_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(_minimal()))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_minimal()))
    for name in ("s.json", "s.yaml"):
        assert len(Simulator.from_seed(tmp_path / name).enrollments()) == 1
    (tmp_path / "bad.yaml").write_text("accounts: [unclosed")
    with pytest.raises(SeedError):
        Simulator.from_seed(tmp_path / "bad.yaml")


def test_generate_is_deterministic_and_valid() -> None:
    a = generate(courses=30, students_per_course=20, sections_per_course=2, random_seed=5)
    assert a == generate(courses=30, students_per_course=20, sections_per_course=2, random_seed=5)
    assert a != generate(courses=30, students_per_course=20, sections_per_course=2, random_seed=6)
    sim = Simulator.from_seed(a)
    rows = sim.enrollments()
    students = [r for r in rows if r["type"] == "StudentEnrollment"]
    assert len(students) == 30 * 20
    assert {r["workflow_state"] for r in rows} >= {"active", "invited", "deleted", "completed"}
    assert any(r["type"] == "ObserverEnrollment" and r["associated_user_id"] for r in rows)
    assert sim.store.tokens[ADMIN_TOKEN].admin


def test_generate_command_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "inst.json"
    args = [
        "generate",
        "--courses",
        "5",
        "--students-per-course",
        "7",
        "--random-seed",
        "2",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(sim_command, args)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == generate(courses=5, students_per_course=7, random_seed=2)


def test_serve_command_prints_url_first_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconcile", "sim", "serve", "--seed", str(SEED), "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        response = requests.get(
            f"{url}/api/v1/courses/101/enrollments",
            headers={"Authorization": "Bearer demo-admin-token"},
            timeout=5,
        )
        assert response.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_command_rejects_a_bad_seed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"accounts": []}))
    result = CliRunner().invoke(sim_command, ["serve", "--seed", str(bad)])
    assert result.exit_code == 1
    assert "invalid simulator seed" in result.output


def test_stopped_simulator_stops_answering_kept_alive_connections() -> None:
    simulator = Simulator.from_seed(SEED)
    session = requests.Session()
    with simulator.serve() as url:
        assert session.get(f"{url}/__sim/stats", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/__sim/stats", timeout=5)


def test_unauthorized_status_can_be_the_older_401() -> None:
    simulator = Simulator.from_seed(SEED, unauthorized_status=401)
    with simulator.serve() as url:
        response = requests.get(
            f"{url}/api/v1/courses/102/enrollments",
            headers={"Authorization": "Bearer demo-student-token"},
            timeout=5,
        )
    assert response.status_code == 401
    assert response.json() == {
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}],
    }


def test_unquoted_yaml_timestamps_are_accepted(tmp_path: Path) -> None:
    text = (
        yaml.safe_dump(_minimal()) + "terms:\n- {id: 1, start_at: 2026-08-24 08:00:00, end_at: 2026-12-19}\n"
    )
    (tmp_path / "s.yaml").write_text(text)
    simulator = Simulator.from_seed(tmp_path / "s.yaml")
    term = simulator.store.terms[1]
    assert (term.start_at.isoformat(), term.end_at.isoformat()) == (
        "2026-08-24T08:00:00+00:00",
        "2026-12-19T00:00:00+00:00",
    )


def test_a_dict_seed_is_copied() -> None:
    doc = _minimal()
    simulator = Simulator.from_seed(doc)
    doc["enrollments"][0]["workflow_state"] = "deleted"
    simulator.reset()
    assert simulator.enrollments()[0]["workflow_state"] == "active"
