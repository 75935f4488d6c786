"""canvas-reconcile as an installed package rather than a checkout: a wheel built from this
tree, installed into a new virtualenv, runs the demo from a folder that has no examples/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CANVAS_", "RECONCILE_"))
    }
    env["HOME"] = str(home)
    return env


@pytest.mark.slow
def test_demo_runs_from_a_wheel_installed_in_a_new_virtualenv(tmp_path: Path) -> None:
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(tmp_path)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("canvas_reconcile-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run(
        [str(python), "-c", "import reconcile; print(reconcile.__file__)"],
        env=env, cwd=elsewhere, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr  # not this checkout
    demo = subprocess.run(
        [str(venv / "bin" / "reconcile"), "demo"],
        env=env, cwd=elsewhere, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "Demo finished" in demo.stdout and "EXPECTED" not in demo.stdout
    schema = subprocess.run(
        [str(venv / "bin" / "reconcile"), "schema", "sim-seed"],
        env=env, cwd=elsewhere, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert schema.returncode == 0 and json.loads(schema.stdout)["type"] == "object"
    assert list(elsewhere.iterdir()) == []  # the demo worked in its own scratch folder


def test_sim_serve_help_names_the_seed_schema_command() -> None:
    result = CliRunner().invoke(cli, ["sim", "serve", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "`reconcile schema sim-seed`" in text and "schemas/" not in text


def test_sim_generate_prints_the_tokens_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "world.json"
    result = CliRunner().invoke(cli, ["sim", "generate", "--courses", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    tokens = json.loads(out.read_text())["tokens"]
    assert tokens
    for entry in tokens:
        assert f"token {entry['token']} (account admin, user id {entry['user_id']})" in result.output
    assert "3 courses" in result.output
