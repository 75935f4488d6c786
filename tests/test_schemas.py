"""Every published schema is a valid JSON Schema, reachable from the installed package."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconcile import schemas

ROOT = Path(__file__).resolve().parent.parent


def test_every_schema_file_is_published() -> None:
    on_disk = sorted(p.name.removesuffix(".schema.json") for p in (ROOT / "schemas").glob("*.schema.json"))
    assert on_disk == sorted(schemas.NAMES)


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_is_valid(name: str) -> None:
    document = schemas.load(name)
    validator = jsonschema.validators.validator_for(document)
    validator.check_schema(document)
    assert document.get("title"), f"{name} schema needs a title"
    assert json.dumps(document)  # serialisable as published by `reconcile schema`


def _validate(name: str, document: object) -> None:
    schema = schemas.load(name)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").rglob("reconcile.yaml")), ids=lambda p: p.parent.name
)
def test_example_configs_match_the_config_schema(path: Path) -> None:
    import yaml

    _validate("config", yaml.safe_load(path.read_text(encoding="utf-8")))


def test_example_yaml_roster_matches_the_roster_schema() -> None:
    import yaml

    _validate(
        "roster", yaml.safe_load((ROOT / "examples" / "yaml" / "roster.yaml").read_text(encoding="utf-8"))
    )


def test_simulator_seeds_match_the_seed_schema() -> None:
    import yaml

    from reconcile.sim.generate import generate

    _validate(
        "sim-seed",
        yaml.safe_load((ROOT / "examples" / "sim" / "university.yaml").read_text(encoding="utf-8")),
    )
    _validate("sim-seed", json.loads(json.dumps(generate(courses=3, students_per_course=5))))


def test_plans_the_code_writes_match_the_plan_schema() -> None:
    # The golden plan is written by the planner and checked byte for byte by its tests.
    _validate(
        "plan", json.loads((ROOT / "tests" / "planner" / "golden" / "busy.json").read_text(encoding="utf-8"))
    )


def test_shell_completion_script_is_available() -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, _RECONCILE_COMPLETE="bash_source")
    proc = subprocess.run([sys.executable, "-m", "reconcile"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "_RECONCILE_COMPLETE=bash_complete" in proc.stdout and "complete -o" in proc.stdout
