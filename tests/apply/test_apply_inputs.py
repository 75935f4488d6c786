"""What apply says about inputs that are not a usable plan or state dir: each a clear exit 1
before any request (no traceback, no "cannot tell the roster format" for a plan file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apply_world import ROOT, write_config
from click.testing import CliRunner

from reconcile.cli import cli

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"
CUSTOM_ROLES = "roster:\n  custom_roles:\n    Grader: ta\n"


@pytest.fixture()
def world(university, tmp_path: Path):
    class World:
        sim = university.simulator
        tmp = tmp_path
        env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}
        config = write_config(
            tmp_path / "reconcile.yaml", url=university.url, state_dir=tmp_path / "state", extra=CUSTOM_ROLES
        )

        def run(self, *args: str, config: Path | None = None) -> object:
            return CliRunner().invoke(cli, [*args, "-c", str(config or self.config)], env=self.env)

        def plan(self) -> Path:
            path = self.tmp / "plan.json"
            made = self.run("plan", str(ROSTER), "--out", str(path))
            assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
            self.sim.reset()
            return path

    return World()


def test_a_truncated_plan_is_not_a_valid_plan(world) -> None:
    path = world.plan()
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    result = world.run("apply", str(path))
    assert result.exit_code == 1, result.output
    assert "not a valid plan: invalid JSON" in result.output and "roster format" not in result.output
    assert world.sim.stats()["total"] == 0


def test_a_plan_with_a_broken_field_is_not_a_valid_plan(world) -> None:
    path = world.plan()
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["operations"][0]["target"]
    path.write_text(json.dumps(data), encoding="utf-8")
    result = world.run("apply", str(path))
    assert result.exit_code == 1 and "not a valid plan" in result.output
    assert "does not match the plan schema at operations/0" in result.output
    assert world.sim.stats()["total"] == 0


def test_a_snapshot_given_to_apply_is_named_as_one(world) -> None:
    snapshot = world.tmp / "current.json"
    exported = world.run("export", "--course", "MATH101-F26", "--format", "json", "--out", str(snapshot))
    assert exported.exit_code == 0, exported.output
    world.sim.reset()
    for command in ("apply", "show"):
        args = [command, str(snapshot)]
        result = world.run(*args) if command == "apply" else CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "is a snapshot (reconcile export), not a plan" in result.output
        assert f"--current {snapshot}" in result.output
    assert world.sim.stats()["total"] == 0


def test_an_uncreatable_state_dir_is_a_clear_error_before_any_request(world) -> None:
    path = world.plan()
    blocker = world.tmp / "not-a-folder"
    blocker.write_text("a file where the state dir should go\n", encoding="utf-8")
    config = write_config(
        world.tmp / "bad.yaml",
        url=world.env["CANVAS_API_URL"],
        state_dir=blocker / "state",
        extra=CUSTOM_ROLES,
    )
    result = world.run("apply", str(path), config=config)
    assert result.exit_code == 1, result.output
    assert f"cannot use the state dir {blocker / 'state'}" in result.output and "state_dir" in result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    assert world.sim.stats()["total"] == 0
