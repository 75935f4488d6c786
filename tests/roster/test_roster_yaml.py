"""YAML rosters: short lists, long form, defaults at three levels, observers, custom roles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reconcile.config import Config, PolicySettings, RosterSettings
from tests.roster.helpers import codes, load, write

ROSTER = """
status: active
limit_section_privileges: false
courses:
  - course: MATH101
    start_date: 2026-08-24
    end_date: 2026-12-18T23:59:59Z
    sections:
      - section: MATH101-01
        status: invited
        students: [s001, 1002]
        teachers: [t01]
        observers:
          - {user: p01, observes: [s001, 1002]}
          - p02
        enrollments:
          - {user: s003, role: ta, status: completed, limit_section_privileges: true, end_date: null}
          - {user: "integration:i9", role_id: 12, notify: true}
  - course: canvas:77
    tas: [g01]
    other_roles:
      Grader: [g02]
enrollments:
  - {course: BIO110, section: BIO110-A, user: "login:jdoe", role: designer, last_attended_at: 2026-10-01}
"""


def test_yaml_expands_with_nearest_defaults(tmp_path: Path) -> None:
    config = Config(roster=RosterSettings(custom_roles={"Grader": "TaEnrollment"}))
    result = load(write(tmp_path / "roster.yaml", ROSTER), config=config)
    assert codes(result) == [
        ("courses[0].sections[0].enrollments[0]", "end_date", "half_dates"),
        ("courses[0].sections[0].observers[1]", "associated_user_id", "observer_without_observee"),
    ]
    d = result.desired.set_index("origin_row")
    s1 = d.loc["courses[0].sections[0].students[0]"]
    assert (s1["course"], s1["section"], s1["user"], s1["role"]) == (
        "sis_course_id:MATH101",
        "sis_section_id:MATH101-01",
        "sis_user_id:s001",
        "StudentEnrollment",
    )
    assert s1["status"] == "invited"  # section default beats file default
    assert s1["start_at"] == pd.Timestamp("2026-08-24T00:00:00Z")
    assert s1["end_at"] == pd.Timestamp("2026-12-18T23:59:59Z")
    assert s1["dates_managed"] and s1["limit_managed"] and not s1["limit_section_privileges"]
    assert d.loc["courses[0].sections[0].students[1]"]["user"] == "sis_user_id:1002"
    obs = d.loc["courses[0].sections[0].observers[0].observes[1]"]
    assert (obs["role"], obs["associated_user"]) == ("ObserverEnrollment", "sis_user_id:1002")
    long = d.loc["courses[0].sections[0].enrollments[0]"]
    assert (long["role"], long["status"], bool(long["limit_section_privileges"])) == (
        "TaEnrollment",
        "completed",
        True,
    )
    assert pd.isna(long["end_at"]) and long["start_at"] == pd.Timestamp("2026-08-24T00:00:00Z")
    by_id = d.loc["courses[0].sections[0].enrollments[1]"]
    assert (by_id["user"], by_id["role_id"], bool(by_id["notify"])) == ("sis_integration_id:i9", 12, True)
    anysec = d.loc["courses[1].tas[0]"]
    assert anysec["course"] == "77" and pd.isna(anysec["section"]) and anysec["status"] == "active"
    assert not anysec["dates_managed"]
    assert d.loc["courses[1].other_roles.Grader[0]"]["type"] == "TaEnrollment"
    top = d.loc["enrollments[0]"]
    assert (top["user"], top["role"]) == ("sis_login_id:jdoe", "DesignerEnrollment")
    assert top["last_attended_managed"] and top["last_attended_at"] == pd.Timestamp("2026-10-01T00:00:00Z")
    assert result.inputs[0]["format"] == "yaml" and result.inputs[0]["rows"] == len(result.desired)


def test_status_falls_back_to_config(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", "courses: [{course: C1, students: [u1]}]\n")
    config = Config(policy=PolicySettings(enrollment_state="invited"))
    assert load(path, config=config).desired.iloc[0]["status"] == "invited"
    assert load(path).desired.iloc[0]["status"] == "active"


def test_yaml_detected_without_extension(tmp_path: Path) -> None:
    result = load(write(tmp_path / "roster.txt", "courses:\n  - course: C1\n    students: [u1]\n"))
    assert result.ok and result.inputs[0]["format"] == "yaml"


def test_every_schema_problem_has_its_path(tmp_path: Path) -> None:
    text = "courses:\n  - course: C1\n    students: [u1]\n    sections:\n      - section: S1\n        tas: u2\n      - {}\n"
    result = load(write(tmp_path / "r.yaml", text))
    assert sorted(codes(result)) == [
        ("courses[0].sections[0].tas", "tas", "schema"),
        ("courses[0].sections[1]", None, "schema"),
    ]


def test_non_mapping_document(tmp_path: Path) -> None:
    result = load(write(tmp_path / "r.yaml", "- just\n- a list\n"))
    assert [c for _, _, c in codes(result)] == ["schema"]


def test_control_characters_in_yaml_ids_are_malformed(tmp_path: Path) -> None:
    result = load(write(tmp_path / "r.yaml", 'courses: [{course: C1, students: ["u\\0x", "u\\ty", ok]}]\n'))
    assert codes(result) == [
        ("courses[0].students[0]", "user_id", "malformed_id"),
        ("courses[0].students[1]", "user_id", "malformed_id"),
    ]


def test_numeric_ids_are_text(tmp_path: Path) -> None:
    text = "courses:\n  - course: 12345\n    sections:\n      - section: 678\n        students: [1001]\nenrollments:\n  - {course: 99, user: 5, role_id: 12}\n"
    result = load(write(tmp_path / "r.yaml", text))
    assert result.ok, result.problems
    rows = sorted(
        zip(
            result.desired["course"],
            result.desired["section"].fillna(""),
            result.desired["user"],
            strict=True,
        )
    )
    assert rows == [
        ("sis_course_id:12345", "sis_section_id:678", "sis_user_id:1001"),
        ("sis_course_id:99", "", "sis_user_id:5"),
    ]
    assert list(result.desired["role_id"].fillna(0)) in ([0, 12], [12, 0])
