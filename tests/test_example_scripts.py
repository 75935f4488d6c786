"""The shell recipes in examples/ work as written, against a simulator in its own process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


@pytest.fixture
def canvas() -> Iterator[str]:
    server = subprocess.Popen(
        [
            str(BIN / "reconcile"),
            "sim",
            "serve",
            "--seed",
            str(EXAMPLES / "sim" / "university.yaml"),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        yield first.removeprefix("listening on ")
    finally:
        server.terminate()
        server.wait(timeout=10)


def _env(url: str, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        CANVAS_API_URL=url,
        CANVAS_API_TOKEN="demo-admin-token",
        RECONCILE_BIN=str(BIN / "reconcile"),
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _copy_config(tmp_path: Path) -> Path:
    config = tmp_path / "reconcile.yaml"
    shutil.copy(EXAMPLES / "sis-export" / "reconcile.yaml", config)
    return config


def test_sis_pipeline_applies_then_finds_nothing_to_do(canvas: str, tmp_path: Path) -> None:
    config = _copy_config(tmp_path)
    script = EXAMPLES / "sis-export" / "pipeline.sh"
    roster = EXAMPLES / "sis-export" / "enrollments.csv"
    env = _env(canvas, RECONCILE_OUT_DIR=str(tmp_path))
    first = subprocess.run(["bash", str(script), str(roster), str(config)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "plan.md").read_text().startswith("### reconcile plan")
    second = subprocess.run(["bash", str(script), str(roster), str(config)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    assert "in sync" in second.stdout


def test_cron_wrapper_applies_and_alerts_on_a_tripped_guard(canvas: str, tmp_path: Path) -> None:
    config = _copy_config(tmp_path)
    alerts = tmp_path / "alerts.txt"
    alert_cmd = tmp_path / "alert.sh"
    alert_cmd.write_text(f'#!/bin/sh\necho "$1" >> {alerts}\n')
    alert_cmd.chmod(0o755)
    env = _env(canvas, RECONCILE_CONFIG=str(config), RECONCILE_LOG_DIR=str(tmp_path / "logs"),
               ALERT_COMMAND=str(alert_cmd))  # fmt: skip
    script = EXAMPLES / "cron" / "reconcile-cron.sh"
    roster = EXAMPLES / "sis-export" / "enrollments.csv"

    ok = subprocess.run(["bash", str(script), str(roster)], env=env, cwd=tmp_path, capture_output=True,
                        text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert not alerts.exists()

    truncated = tmp_path / "truncated.csv"
    truncated.write_text("".join(roster.read_text().splitlines(keepends=True)[:13]))
    blocked = subprocess.run(["bash", str(script), str(truncated)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert blocked.returncode == 3, blocked.stdout + blocked.stderr
    assert "drop guard tripped" in alerts.read_text()
    logs = sorted((tmp_path / "logs").glob("sync-*.log"))
    assert len(logs) == 2 and "GUARDS TRIPPED" in logs[-1].read_text()
