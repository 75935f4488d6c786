"""The shell recipes in examples/ work as written, against a simulator in its own process."""

from __future__ import annotations

import os
import shlex
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


def test_sis_pipeline_keeps_the_plan_for_review_when_a_guard_trips(canvas: str, tmp_path: Path) -> None:
    config = _copy_config(tmp_path)
    roster = tmp_path / "truncated.csv"
    lines = (EXAMPLES / "sis-export" / "enrollments.csv").read_text().splitlines(keepends=True)
    roster.write_text("".join(lines[:6]))  # the export job died early
    env = _env(canvas, RECONCILE_OUT_DIR=str(tmp_path))
    script = EXAMPLES / "sis-export" / "pipeline.sh"
    blocked = subprocess.run(["bash", str(script), str(roster), str(config)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert blocked.returncode == 3, blocked.stdout + blocked.stderr
    assert "A drop guard tripped" in blocked.stderr
    assert "guard(s) tripped" in (tmp_path / "plan.md").read_text()


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


def _cron_install(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The cron folder copied where its crontab says (/opt/canvas-sync), a home, a roster."""
    install = tmp_path / "opt" / "canvas-sync"
    shutil.copytree(EXAMPLES / "cron", install)
    home = tmp_path / "home"
    home.mkdir()
    roster = tmp_path / "srv" / "sis" / "enrollments.csv"
    roster.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "sis-export" / "enrollments.csv", roster)
    return install, home, roster


def _as_cron(install: Path, home: Path, roster: Path, env_file: str) -> subprocess.CompletedProcess[str]:
    """The crontab line, run as cron runs it: /bin/sh, from $HOME, with cron's bare environment."""
    (home / "env").write_text(env_file)
    line = f". {home / 'env'} && {install / 'reconcile-cron.sh'} {roster}"
    cron_env = {"HOME": str(home), "LOGNAME": "sync", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", line], env=cron_env, cwd=home, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def _env_file(url: str, token: str = "demo-admin-token", **extra: str) -> str:
    # only what env.example documents
    values = {
        "CANVAS_API_URL": url,
        "CANVAS_API_TOKEN": token,
        "RECONCILE_BIN": str(BIN / "reconcile"),
        **extra,
    }
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


def test_cron_recipe_as_shipped_runs_from_home_with_only_its_documented_environment(
    canvas: str, tmp_path: Path
) -> None:
    documented = (EXAMPLES / "cron" / "env.example").read_text() + (
        EXAMPLES / "cron" / "reconcile-cron.sh"
    ).read_text()
    install, home, roster = _cron_install(tmp_path)
    env_file = _env_file(canvas)
    assert all(key in documented for key in ("CANVAS_API_URL", "CANVAS_API_TOKEN", "RECONCILE_BIN"))

    first = _as_cron(install, home, roster, env_file)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == ""  # nothing for cron to mail
    (log,) = (install / "logs").glob("sync-*.log")
    text = log.read_text()
    assert "== " in text and "apply" in text and text.rstrip().endswith("applied"), text
    assert "demo-admin-token" not in text
    assert (install / ".reconcile" / "journal.sqlite").exists()  # beside the config, not in $HOME
    assert sorted(p.name for p in home.iterdir()) == ["env"]

    second = _as_cron(install, home, roster, env_file)
    assert second.returncode == 0, second.stdout + second.stderr
    newest = sorted((install / "logs").glob("sync-*.log"))[-1]
    assert "in sync; nothing to apply" in newest.read_text()


def test_cron_recipe_alerts_with_the_real_cause(canvas: str, tmp_path: Path) -> None:
    install, home, roster = _cron_install(tmp_path)
    alerts = tmp_path / "alerts.txt"
    alert_cmd = tmp_path / "alert.sh"
    alert_cmd.write_text(f'#!/bin/sh\necho "$1" >> {alerts}\n')
    alert_cmd.chmod(0o755)

    def alert_of(env_file: str) -> tuple[int, str]:
        alerts.unlink(missing_ok=True)
        result = _as_cron(install, home, roster, env_file + f"export ALERT_COMMAND={alert_cmd}\n")
        return result.returncode, alerts.read_text().strip() if alerts.exists() else ""

    code, alert = alert_of(_env_file(canvas, RECONCILE_CONFIG=str(tmp_path / "nowhere.yaml")))
    assert code == 1 and "config" in alert and "nowhere.yaml not found" in alert, alert
    assert "validation" not in alert

    code, alert = alert_of(_env_file(canvas, token="not-the-token"))
    assert code == 1 and alert.startswith("canvas-reconcile: plan failed (exit 1): GET /api/v1/courses/"), (
        alert
    )
    assert "HTTP 401 (Canvas said: Invalid access token.)" in alert and "not-the-token" not in alert

    code, alert = alert_of(_env_file(canvas).replace(f"export RECONCILE_BIN={BIN / 'reconcile'}\n", ""))
    assert code == 1 and "cannot run 'reconcile': set RECONCILE_BIN" in alert, alert

    roster.write_text("course_id,user_id,role,status\nMATH101-F26,S0001,studnet,active\n")
    code, alert = alert_of(_env_file(canvas))
    assert code == 1 and alert == (
        "canvas-reconcile: roster failed validation (1 error, 0 warnings; first: "
        f'{roster}:2: column role: unknown role "studnet" (did you mean "student"?)); nothing sent to Canvas'
    )
