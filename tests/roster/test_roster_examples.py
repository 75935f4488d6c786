"""The examples validate, and the three formats describe the same institution."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import yaml

from reconcile.config import load_config
from reconcile.roster import load_rosters

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IDENTITY = ["course", "section", "user", "role", "associated_user", "status"]


def _load(roster: Path, config: Path):  # type: ignore[no-untyped-def]
    result = load_rosters([roster], config=load_config(config, env={}))
    assert result.ok, [str(p) for p in result.errors]
    return result


def _rows(result) -> set[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    frame = result.desired[IDENTITY].astype(object).where(result.desired[IDENTITY].notna(), None)
    return set(map(tuple, frame.itertuples(index=False)))


def test_sis_and_yaml_examples_are_the_same_desired_state() -> None:
    sis = _load(EXAMPLES / "sis-export/enrollments.csv", EXAMPLES / "sis-export/reconcile.yaml")
    yml = _load(EXAMPLES / "yaml/roster.yaml", EXAMPLES / "yaml/reconcile.yaml")
    assert not sis.warnings and not yml.warnings
    assert _rows(sis) == _rows(yml)
    columns = ["start_at", "end_at", "limit_section_privileges", "dates_managed", "limit_managed"]
    by_key_sis = sis.desired.set_index(IDENTITY[:5])[columns].sort_index()
    by_key_yml = yml.desired.set_index(IDENTITY[:5])[columns].sort_index()
    assert by_key_sis.equals(by_key_yml)


def test_oneroster_bulk_matches_the_active_part() -> None:
    sis = _load(EXAMPLES / "sis-export/enrollments.csv", EXAMPLES / "sis-export/reconcile.yaml")
    one = _load(EXAMPLES / "oneroster/bulk", EXAMPLES / "oneroster/reconcile.yaml")
    active = {row for row in _rows(sis) if row[-1] == "active"}
    # OneRoster cannot say inactive or completed; everything active is the same.
    assert _rows(one) == active


def test_examples_name_the_simulated_university() -> None:
    seed = yaml.safe_load((EXAMPLES / "sim/university.yaml").read_text())
    courses = {f"sis_course_id:{c['sis_course_id']}" for c in seed["courses"]}
    sections = {f"sis_section_id:{s['sis_section_id']}" for s in seed["sections"]}
    users = {f"sis_user_id:{u['sis_user_id']}" for u in seed["users"] if u.get("sis_user_id")}
    roles = {r["label"] for r in seed.get("roles", [])}
    desired = _load(EXAMPLES / "sis-export/enrollments.csv", EXAMPLES / "sis-export/reconcile.yaml").desired
    assert set(desired["course"]) <= courses
    assert set(desired["section"].dropna()) <= sections
    assert set(desired["user"]) | set(desired["associated_user"].dropna()) <= users
    custom = set(desired["role"]) - {
        "StudentEnrollment",
        "TeacherEnrollment",
        "TaEnrollment",
        "ObserverEnrollment",
        "DesignerEnrollment",
    }
    assert custom <= roles


def test_oneroster_delta_folder_and_zip() -> None:
    folder = EXAMPLES / "oneroster/delta"
    result = _load(folder, EXAMPLES / "oneroster/reconcile.yaml")
    assert not result.complete
    assert sorted(result.desired["status"]) == ["active", "deleted"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)
    buffer.name = "delta.zip"
    buffer.seek(0)
    zipped = load_rosters([buffer], config=load_config(EXAMPLES / "oneroster/reconcile.yaml", env={}))
    assert zipped.ok and not zipped.complete
    assert sorted(zipped.desired["user"]) == sorted(result.desired["user"])
