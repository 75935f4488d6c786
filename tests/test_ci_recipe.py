"""The GitHub Actions recipe (examples/ci/github-actions.yml) runs as written, against the simulator.

A small stand-in for an Actions runner executes the workflow's own ``run:`` scripts the way
Actions does (``bash --noprofile --norc -eo pipefail``, with ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` files), evaluates its ``${{ }}`` expressions and ``if:`` conditions,
and does locally what its few ``uses:`` actions do (checkout: a fresh copy of the repository per
job; artifacts and caches: folders, caches immutable per key as on GitHub). The install step is
not run (no network here; the package under test is already installed): its pin is checked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
WORKFLOW = EXAMPLES / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent
TOKEN = "demo-admin-token"


def load_workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


# -- expressions ------------------------------------------------------------------------

_CONTEXT = re.compile(r"\b(github|vars|secrets|steps|needs|env)((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)")


def evaluate(expression: str, contexts: dict[str, Any], *, ok: bool = True) -> Any:
    """A GitHub expression of the kinds the workflow uses: context lookups, 'strings', ==, !=,
    &&, || (which return operands, as in Python), !, always(), success(), failure()."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = contexts.get(match.group(1), {})
        for part in match.group(2).strip(".").split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return repr(value)

    text = _CONTEXT.sub(lookup, expression)
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = text.replace("always()", "True").replace("success()", repr(ok)).replace("failure()", repr(not ok))
    return eval(text, {"__builtins__": {}}, {})  # noqa: S307 - test-only, our own workflow file


def substitute(value: Any, contexts: dict[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), contexts)), str(value))


# -- the runner -------------------------------------------------------------------------


@dataclass
class Job:
    conclusion: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    steps: dict[str, str] = field(default_factory=dict)  # step name -> success | failure | skipped
    workspace: Path | None = None


class Runner:
    def __init__(
        self, tmp: Path, repository: Path, *, canvas_url: str, run_id: int, attempt: int = 1
    ) -> None:
        self.tmp, self.repository = tmp, repository
        self.artifacts, self.caches = tmp / "artifacts" / str(run_id), tmp / "caches"
        self.github = {
            "event_name": "schedule",
            "run_id": str(run_id),
            "run_attempt": str(attempt),
            "head_ref": "",
        }
        self.vars, self.secrets = {"CANVAS_API_URL": canvas_url}, {"CANVAS_API_TOKEN": TOKEN}
        self.workflow = load_workflow()
        self.log = ""  # everything the run: steps printed, for failure messages
        self._jobs = 0

    def run(self, event: str) -> dict[str, Job]:
        self.github["event_name"] = event
        if event == "pull_request":
            self.github["head_ref"] = "roster-update"
        done: dict[str, Job] = {}
        for name, job in self.workflow["jobs"].items():
            needs = [job["needs"]] if isinstance(job.get("needs"), str) else list(job.get("needs", []))
            contexts = self._contexts(needs={n: {"outputs": done[n].outputs, "result": done[n].conclusion}
                                             for n in needs})  # fmt: skip
            condition = job.get("if")
            needs_ok = all(done[n].conclusion == "success" for n in needs)
            wanted = evaluate(condition, contexts, ok=needs_ok) if condition else needs_ok
            if not (wanted and (needs_ok or "always()" in str(condition))):
                done[name] = Job("skipped")
                continue
            done[name] = self._job(job, contexts)
        return done

    def _contexts(self, **extra: Any) -> dict[str, Any]:
        return {"github": self.github, "vars": self.vars, "secrets": self.secrets, **extra}

    def _job(self, job: dict[str, Any], contexts: dict[str, Any]) -> Job:
        self._jobs += 1  # a fresh machine per job: only artifacts and caches carry over
        workspace = self.tmp / "work" / f"{self.github['run_id']}-{self._jobs}"
        workspace.mkdir(parents=True)
        summary, output = (
            workspace.parent / f"{workspace.name}.summary",
            workspace.parent / f"{workspace.name}.output",
        )
        summary.touch()
        env = {
            k: substitute(v, contexts)
            for k, v in {**self.workflow.get("env", {}), **job.get("env", {})}.items()
        }
        steps: dict[str, dict[str, str]] = {}
        contexts = {**contexts, "steps": steps}
        result, ok = Job("success", workspace=workspace), True
        for number, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or f"step {number}"
            condition = step.get("if")
            if not (evaluate(condition, contexts, ok=ok) if condition else ok):
                result.steps[name] = "skipped"
                continue
            passed = self._step(step, workspace, {**env, **{k: substitute(v, contexts) for k, v in step.get("env", {}).items()}},
                                contexts, summary, output)  # fmt: skip
            result.steps[name] = "success" if passed else "failure"
            if "id" in step:
                steps[step["id"]] = {"outputs": _outputs(output)}
            output.write_text("")
            ok = ok and passed
        result.conclusion = "success" if ok else "failure"
        result.outputs = {k: substitute(v, contexts) for k, v in job.get("outputs", {}).items()}
        result.summary = summary.read_text()
        return result

    def _step(self, step: dict[str, Any], workspace: Path, env: dict[str, str], contexts: dict[str, Any],
              summary: Path, output: Path) -> bool:  # fmt: skip
        given = {k: substitute(v, contexts) for k, v in step.get("with", {}).items()}
        if "run" in step:
            if step.get("name", "").startswith("Install canvas-reconcile"):
                return True  # checked by test_install_is_pinned; the package under test is installed
            script = workspace.parent / f"{workspace.name}.sh"
            script.write_text(step["run"])
            runner_env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(self.tmp), "CI": "true",
                          "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), **env}  # fmt: skip
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                                  env=runner_env, capture_output=True, text=True, timeout=300)  # fmt: skip
            self.log += done.stdout + done.stderr
            return done.returncode == 0
        action = step["uses"].split("@")[0]
        if action == "actions/checkout":
            shutil.copytree(self.repository, workspace, dirs_exist_ok=True)
        elif action == "actions/setup-python":
            pass
        elif action == "actions/upload-artifact":
            target = self.artifacts / given["name"]
            for path in given["path"].split():
                if (workspace / path).exists():
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy(workspace / path, target / Path(path).name)
            if not target.exists() and given.get("if-no-files-found") != "ignore":
                return False
        elif action == "actions/download-artifact":
            shutil.copytree(self.artifacts / given["name"], workspace, dirs_exist_ok=True)
        elif action == "actions/cache/restore":
            entry = self._cache_entry(given["key"], given.get("restore-keys", "").split())
            if entry is not None:
                shutil.copytree(entry, workspace / given["path"], dirs_exist_ok=True)
        elif action == "actions/cache/save":
            target = self.caches / given["key"]
            if target.exists():
                return False  # caches are immutable per key on GitHub
            if (workspace / given["path"]).exists():  # else GitHub warns and saves nothing
                shutil.copytree(workspace / given["path"], target)
        else:
            raise AssertionError(f"the stand-in runner does not know {step['uses']}")
        return True

    def _cache_entry(self, key: str, prefixes: list[str]) -> Path | None:
        if (self.caches / key).exists():
            return self.caches / key
        for prefix in prefixes:
            found = (
                sorted(self.caches.glob(f"{prefix}*"), key=lambda p: p.stat().st_mtime)
                if self.caches.exists()
                else []
            )
            if found:
                return found[-1]
        return None


def _outputs(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


# -- tests ------------------------------------------------------------------------------


@pytest.fixture
def canvas() -> Iterator[str]:
    server = subprocess.Popen([str(BIN / "reconcile"), "sim", "serve", "--seed", str(EXAMPLES / "sim" / "university.yaml"),
                               "--port", "0", "--throttle", "off"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip().removeprefix("listening on ")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """The repository the workflow lives in: the SIS export and the config."""
    repo = tmp_path / "repository"
    (repo / "exports").mkdir(parents=True)
    shutil.copy(EXAMPLES / "sis-export" / "enrollments.csv", repo / "exports" / "enrollments.csv")
    shutil.copy(EXAMPLES / "sis-export" / "reconcile.yaml", repo / "reconcile.yaml")
    return repo


def writes(url: str) -> int:
    return int(requests.get(f"{url}/__sim/stats", timeout=10).json()["writes"])


def test_install_is_pinned_and_the_triggers_are_the_recipe_s() -> None:
    workflow = load_workflow()
    assert set(workflow["on"]) == {"pull_request", "schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", workflow["env"]["RECONCILE_VERSION"])
    installs = [
        s for job in workflow["jobs"].values() for s in job["steps"] if "pip install" in s.get("run", "")
    ]
    assert len(installs) == 2 and all(
        '"canvas-reconcile==${RECONCILE_VERSION}"' in s["run"] for s in installs
    )
    kept = {s["name"]: s.get("if") for job in workflow["jobs"].values() for s in job["steps"] if "name" in s}
    assert kept["Keep the plan (also when a guard tripped)"] == "always()"
    assert kept["Save the apply journal (also after a failure, so a re-run resumes)"] == "always()"


def test_a_pull_request_gets_a_plan_summary_and_nothing_is_applied(
    canvas: str, repository: Path, tmp_path: Path
) -> None:
    jobs = Runner(tmp_path, repository, canvas_url=canvas, run_id=1).run("pull_request")
    plan = jobs["plan"]
    assert plan.conclusion == "success", plan.steps
    assert plan.summary.startswith("### reconcile plan") and "| to enroll |" in plan.summary
    assert plan.outputs == {"changes": "true"}
    assert jobs["apply"].conclusion == "skipped"
    assert sorted(p.name for p in (tmp_path / "artifacts" / "1" / "canvas-plan").iterdir()) == [
        "plan.json",
        "plan.md",
    ]
    assert writes(canvas) == 0


def test_the_nightly_run_applies_the_plan_and_the_next_night_resumes_from_the_cached_journal(
    canvas: str, repository: Path, tmp_path: Path
) -> None:
    night = Runner(tmp_path, repository, canvas_url=canvas, run_id=7).run("schedule")
    assert night["plan"].conclusion == "success" and night["plan"].outputs == {"changes": "true"}
    apply = night["apply"]
    assert apply.conclusion == "success", apply.steps
    assert (
        "### reconcile apply (exit 0)" in apply.summary
        and "Verify: Canvas matches the roster" in apply.summary
    )
    assert (tmp_path / "caches" / "reconcile-journal-7-1" / "journal.sqlite").exists()
    assert writes(canvas) > 0
    assert TOKEN not in apply.summary + night["plan"].summary

    (repository / "exports" / "enrollments.csv").write_text(
        (EXAMPLES / "demo" / "enrollments-next-day.csv").read_text(encoding="utf-8")
    )
    next_night = Runner(tmp_path, repository, canvas_url=canvas, run_id=8).run("schedule")
    assert next_night["apply"].conclusion == "success", next_night["apply"].steps
    # the journal restored from last night's cache now holds both nights' runs
    assert (tmp_path / "caches" / "reconcile-journal-8-1").exists()
    history = subprocess.run([str(BIN / "reconcile"), "history", "-c", str(next_night["apply"].workspace / "reconcile.yaml")],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert len(history.stdout.strip().splitlines()) == 1 + 2, history.stdout  # header + two runs

    in_sync = Runner(tmp_path, repository, canvas_url=canvas, run_id=9).run("schedule")
    assert in_sync["plan"].outputs == {"changes": "false"} and in_sync["apply"].conclusion == "skipped"


def test_a_tripped_guard_fails_the_plan_job_but_keeps_the_plan_for_review(
    canvas: str, repository: Path, tmp_path: Path
) -> None:
    roster = repository / "exports" / "enrollments.csv"
    roster.write_text("".join(roster.read_text().splitlines(keepends=True)[:6]))  # the export died early
    runner = Runner(tmp_path, repository, canvas_url=canvas, run_id=3)
    jobs = runner.run("schedule")
    assert jobs["plan"].conclusion == "failure", (jobs["plan"].steps, runner.log)
    assert jobs["apply"].conclusion == "skipped"
    assert jobs["plan"].steps["Keep the plan (also when a guard tripped)"] == "success"
    assert (tmp_path / "artifacts" / "3" / "canvas-plan" / "plan.json").exists()
    assert "guard(s) tripped" in jobs["plan"].summary
    assert writes(canvas) == 0


def test_a_failed_apply_still_saves_the_journal_and_its_summary(
    canvas: str, repository: Path, tmp_path: Path
) -> None:
    runner = Runner(tmp_path, repository, canvas_url=canvas, run_id=5)
    original = runner._job

    def teacher_edits_between_the_jobs(job: dict[str, Any], contexts: dict[str, Any]) -> Job:
        if "needs" in job:  # the approval wait: meanwhile a teacher enrolls someone by hand
            requests.post(f"{canvas}/api/v1/courses/sis_course_id:MATH101-F26/enrollments",
                          data={"enrollment[user_id]": "sis_user_id:S0016", "enrollment[type]": "StudentEnrollment",
                                "enrollment[enrollment_state]": "active"},
                          headers={"Authorization": "Bearer demo-teacher-token"}, timeout=10).raise_for_status()  # fmt: skip
        return original(job, contexts)

    runner._job = teacher_edits_between_the_jobs  # type: ignore[method-assign]
    jobs = runner.run("schedule")
    apply = jobs["apply"]
    assert apply.conclusion == "failure"
    assert "### reconcile apply (exit 4)" in apply.summary and "Error: plan is stale" in apply.summary
    assert apply.steps["Save the apply journal (also after a failure, so a re-run resumes)"] == "success"
    assert apply.steps["Keep the apply result"] == "success"
    assert (tmp_path / "caches" / "reconcile-journal-5-1").exists()
