"""`reconcile sim generate` with Canvas's entanglements (facts §14.1-§14.3): linked parents,
cross-listed sections and second logins, in a world that loads and serves."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile.cli.sim import sim as sim_command
from reconcile.sim import Simulator
from reconcile.sim.generate import ADMIN_TOKEN, generate
from tests.conftest import University
from tests.sim.conftest import Api
from tests.sim.test_crosslist import assert_indexes_consistent

SHARES = {"linked_parents": 0.1, "crosslisted_sections": 0.2, "second_logins": 0.1}


def _world(**shares: float) -> dict[str, Any]:
    return generate(courses=12, students_per_course=15, sections_per_course=2, random_seed=3, **shares)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[dict[str, Any], Api]]:
    doc = _world(**SHARES)
    simulator = Simulator.from_seed(json.loads(json.dumps(doc)))
    with simulator.serve() as url:
        api = Api(University(url=url, token=ADMIN_TOKEN, simulator=simulator), ADMIN_TOKEN)
        yield doc, api
        api.session.close()


def test_zero_shares_change_nothing() -> None:
    plain = _world()
    assert _world(linked_parents=0, crosslisted_sections=0, second_logins=0) == plain
    assert "observer_links" not in plain
    assert not any("nonxlist_course_id" in s for s in plain["sections"])
    assert not any("pseudonyms" in u for u in plain["users"])
    # the base world is the same whatever the extras add
    extra = _world(**SHARES)
    assert extra["courses"] == plain["courses"] and extra["terms"] == plain["terms"]
    assert len(extra["enrollments"]) > len(plain["enrollments"])


def test_the_world_is_deterministic() -> None:
    assert _world(**SHARES) == _world(**SHARES)


def test_loading_makes_no_rows_the_document_lacks(world: tuple[dict[str, Any], Api]) -> None:
    """The generator writes the observer rows linking would make, so loading adds none
    (reconcile.sim.linked.load_linked keeps seeded rows and creates only missing ones)."""
    doc, api = world
    assert len(api.university.simulator.enrollments()) == len(doc["enrollments"])
    assert_indexes_consistent(api.university.simulator.store)


def test_linked_parents_have_a_row_per_current_student_enrollment(world: tuple[dict[str, Any], Api]) -> None:
    doc, api = world
    links = doc["observer_links"]
    students = {row["user_id"] for row in doc["enrollments"] if row["type"] == "StudentEnrollment"}
    assert len(links) == round(0.1 * len(students))
    link = links[0]
    observees = api.all_pages(f"/api/v1/users/{link['observer_id']}/observees")
    assert [u["id"] for u in observees] == [link["student_id"]]
    student_rows = [
        r
        for r in doc["enrollments"]
        if r["user_id"] == link["student_id"]
        and r["type"] == "StudentEnrollment"
        and r["workflow_state"] not in ("rejected", "completed", "deleted")
    ]
    observer_rows = [r for r in api.university.simulator.enrollments() if r["user_id"] == link["observer_id"]]
    assert sorted(r["course_section_id"] for r in observer_rows) == sorted(
        r["course_section_id"] for r in student_rows
    )
    assert all(r["associated_user_id"] == link["student_id"] for r in observer_rows)
    # Canvas keeps them in step: conclude the student's first row, its observer row follows
    first = student_rows[0]
    assert api.delete(f"/api/v1/courses/{first['course_id']}/enrollments/{first['id']}").status_code == 200
    mirrored = next(
        r
        for r in api.university.simulator.enrollments()
        if r["user_id"] == link["observer_id"] and r["course_section_id"] == first["course_section_id"]
    )
    assert mirrored["workflow_state"] == "completed"


def test_crosslisted_sections_serve_from_their_new_course(world: tuple[dict[str, Any], Api]) -> None:
    doc, api = world
    moved = [s for s in doc["sections"] if s.get("nonxlist_course_id")]
    assert moved
    section = moved[0]
    shown = api.get(f"/api/v1/sections/{section['id']}").json()
    assert (shown["course_id"], shown["nonxlist_course_id"]) == (
        section["course_id"],
        section["nonxlist_course_id"],
    )
    in_new = {s["id"] for s in api.all_pages(f"/api/v1/courses/{section['course_id']}/sections")}
    in_original = {
        s["id"] for s in api.all_pages(f"/api/v1/courses/{section['nonxlist_course_id']}/sections")
    }
    assert section["id"] in in_new and section["id"] not in in_original
    rows = api.all_pages(f"/api/v1/sections/{section['id']}/enrollments")
    assert rows and {r["course_id"] for r in rows} == {section["course_id"]}
    terms = {c["id"]: c["enrollment_term_id"] for c in doc["courses"]}
    assert all(terms[s["course_id"]] == terms[s["nonxlist_course_id"]] for s in moved)


def test_second_logins_resolve_to_the_same_user(world: tuple[dict[str, Any], Api]) -> None:
    doc, api = world
    twice = [u for u in doc["users"] if u.get("pseudonyms")]
    assert twice
    user = twice[0]
    second = user["pseudonyms"][0]["sis_user_id"]
    assert second == f"{user['sis_user_id']}-2"
    assert api.get(f"/api/v1/users/sis_user_id:{second}").json()["id"] == user["id"]
    assert api.get(f"/api/v1/users/sis_user_id:{user['sis_user_id']}").json()["id"] == user["id"]


def test_generate_command_options(tmp_path: Path) -> None:
    out = tmp_path / "entangled.json"
    args = ["generate", "--courses", "12", "--students-per-course", "15", "--sections-per-course", "2",
            "--random-seed", "3", "--linked-parents", "0.1", "--crosslisted-sections", "0.2",
            "--second-logins", "0.1", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(sim_command, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc == _world(**SHARES)
    counts = Counter(
        {
            "links": len(doc["observer_links"]),
            "crosslisted": sum(1 for s in doc["sections"] if s.get("nonxlist_course_id")),
            "logins": sum(1 for u in doc["users"] if u.get("pseudonyms")),
        }
    )
    assert f"{counts['links']} observer links" in result.output
    assert f"{counts['crosslisted']} cross-listed sections" in result.output
    assert f"{counts['logins']} users with a second login" in result.output
    bad = CliRunner().invoke(sim_command, ["generate", "--linked-parents", "2", "--out", str(out)])
    assert bad.exit_code != 0 and "--linked-parents" in bad.output
