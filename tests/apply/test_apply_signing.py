"""Signed plans (``plan --sign``, ``apply --require-signature``): a CI apply job runs only the
plan its own plan job produced. HMAC-SHA256 over the plan's canonical JSON, the key from
``RECONCILE_SIGNING_KEY`` only, and never written anywhere (DESIGN §7, §8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apply_world import ROOT, reseal, write_config
from click.testing import CliRunner

from reconcile.cli import cli

ROSTER = ROOT / "examples" / "sis-export" / "enrollments.csv"
KEY = "k3y-that-must-never-be-written-9f8e7d"
OTHER_KEY = "another-key-of-another-pipeline-1a2b"


@pytest.fixture()
def world(university, tmp_path: Path):
    config = write_config(
        tmp_path / "reconcile.yaml",
        url=university.url,
        state_dir=tmp_path / "state",
        extra="roster:\n  custom_roles:\n    Grader: ta\n",
    )

    class World:
        sim = university.simulator
        tmp = tmp_path
        env = {"CANVAS_API_URL": university.url, "CANVAS_API_TOKEN": university.token}

        def run(self, *args: str, key: str | None = KEY) -> Any:
            env = {**self.env, "RECONCILE_SIGNING_KEY": key}  # None unsets it
            options = [] if args[0] == "show" else ["-c", str(config)]
            return CliRunner().invoke(cli, [*args, *options], env=env)

        def signed_plan(self) -> Path:
            path = self.tmp / "plan.json"
            made = self.run("plan", str(ROSTER), "--out", str(path), "--sign")
            assert made.exit_code == 0, made.output
            self.sim.reset()  # count only what apply sends
            return path

    return World()


def test_signed_plan_applies_with_require_signature_and_the_key_is_written_nowhere(world) -> None:
    path = world.signed_plan()
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["signature"].startswith("hmac-sha256:")
    shown = world.run("show", str(path))
    assert shown.exit_code == 0 and "Signature: valid" in shown.output
    applied = world.run("apply", str(path), "--require-signature")
    assert applied.exit_code == 0, applied.output
    assert world.sim.stats()["writes"] == len(json.loads(text)["operations"])
    state = world.tmp / "state"
    written = [
        text,
        shown.output,
        applied.output,
        *(f.read_bytes().decode("latin-1") for f in state.iterdir()),
    ]
    assert not any(KEY in blob for blob in written)


def test_plan_sign_without_a_key_fails_before_any_request(world) -> None:
    result = world.run("plan", str(ROSTER), "--sign", "--out", str(world.tmp / "p.json"), key=None)
    assert result.exit_code == 1 and "RECONCILE_SIGNING_KEY" in result.output
    assert world.sim.stats()["total"] == 0 and not (world.tmp / "p.json").exists()


def test_require_signature_refuses_an_unsigned_plan(world) -> None:
    path = world.tmp / "plan.json"
    assert world.run("plan", str(ROSTER), "--out", str(path)).exit_code == 0
    world.sim.reset()
    refused = world.run("apply", str(path), "--require-signature")
    assert refused.exit_code == 1 and "not signed" in refused.output
    assert world.sim.stats()["total"] == 0


def test_require_signature_without_the_key_is_refused(world) -> None:
    path = world.signed_plan()
    refused = world.run("apply", str(path), "--require-signature", key=None)
    assert refused.exit_code == 1 and "RECONCILE_SIGNING_KEY" in refused.output
    assert world.sim.stats()["total"] == 0


def test_an_edited_signed_plan_is_refused_even_with_every_hash_recomputed(world) -> None:
    path = world.signed_plan()
    data = json.loads(path.read_text(encoding="utf-8"))
    signature = data["signature"]
    conclude = next(op for op in data["operations"] if op["action"] == "conclude")
    conclude["action"] = "delete"  # a conclude made a delete, consistently: only the signature can tell
    conclude["after"] = {"state": "deleted"}
    data = {**reseal(data), "signature": signature}
    path.write_text(json.dumps(data), encoding="utf-8")
    for command in (["apply", str(path)], ["apply", str(path), "--require-signature"], ["show", str(path)]):
        refused = world.run(*command)
        assert refused.exit_code == 1, refused.output
        assert "signature does not match" in refused.output and KEY not in refused.output
    assert world.sim.stats()["total"] == 0


def test_a_plan_signed_with_another_key_is_refused(world) -> None:
    path = world.signed_plan()
    refused = world.run("apply", str(path), "--require-signature", key=OTHER_KEY)
    assert refused.exit_code == 1 and "signature does not match" in refused.output
    assert OTHER_KEY not in refused.output and world.sim.stats()["total"] == 0


def test_a_signed_plan_without_the_key_applies_with_a_note(world) -> None:
    path = world.signed_plan()
    applied = world.run("apply", str(path), key=None)
    assert applied.exit_code == 0, applied.output
    assert "signed, but RECONCILE_SIGNING_KEY is not set" in applied.output
