"""Worlds for end-to-end apply tests: a simulator (in-process or a subprocess), a roster
that differs from it in every way the planner knows, and planning against it.

``synthetic_roster`` turns a generated simulator seed into an SIS enrollments.csv whose
plan has enrolls, restores, reactivates, moves (enroll + drop), observers of new
students (placeholder dependencies) and drops; completed courses are left out, since
Canvas refuses new enrollments there.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reconcile.config import Config, load_config
from reconcile.plan import Plan
from reconcile.sim.process import simulator_process

ROOT = Path(__file__).resolve().parents[2]
ROLE_WORD = {
    "StudentEnrollment": "student",
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "ta",
    "ObserverEnrollment": "observer",
    "DesignerEnrollment": "designer",
}
COLUMNS = ["course_id", "section_id", "user_id", "role", "status", "associated_user_id"]


def synthetic_roster(
    seed: dict[str, Any],
    *,
    random_seed: int = 1,
    drop_rate: float = 0.08,
    move_rate: float = 0.05,
    new_per_course: int = 3,
    new_observer_rate: float = 0.3,
) -> list[dict[str, str]]:
    """SIS CSV rows for the available courses of ``seed``, changed from what Canvas holds."""
    rng = random.Random(random_seed)
    users = {u["id"]: u for u in seed["users"]}
    courses = {c["id"]: c for c in seed["courses"] if c.get("workflow_state", "available") == "available"}
    sections: dict[int, list[dict[str, Any]]] = {}
    for s in seed["sections"]:
        sections.setdefault(s["course_id"], []).append(s)
    students = [u for u in seed["users"] if str(u.get("sis_user_id", "")).startswith("S")]
    parents = [u for u in seed["users"] if str(u.get("sis_user_id", "")).startswith("P")]
    rows: list[dict[str, str]] = []
    enrolled: dict[int, set[int]] = {}
    for e in seed["enrollments"]:
        course = courses.get(e["course_id"])
        if course is None:
            continue
        enrolled.setdefault(e["course_id"], set()).add(e["user_id"])
        if e["workflow_state"] in ("deleted", "rejected") and rng.random() < 0.5:
            continue  # leave some deleted rows deleted
        section = next(s for s in sections[e["course_id"]] if s["id"] == e["course_section_id"])
        role = ROLE_WORD[e["type"]]
        if role == "student" and rng.random() < drop_rate:
            continue  # absent from the roster: a drop
        if role == "student" and len(sections[e["course_id"]]) > 1 and rng.random() < move_rate:
            section = rng.choice([s for s in sections[e["course_id"]] if s["id"] != section["id"]])
        associated = ""
        if e.get("associated_user_id"):
            associated = users[e["associated_user_id"]]["sis_user_id"]
        rows.append(_row(course, section, users[e["user_id"]], role, associated))
    for course_id, course in courses.items():
        here = enrolled.get(course_id, set())
        fresh = [u for u in students if u["id"] not in here]
        for student in rng.sample(fresh, min(new_per_course, len(fresh))):
            section = rng.choice(sections[course_id])
            rows.append(_row(course, section, student, "student", ""))
            if parents and rng.random() < new_observer_rate:
                # observer of a student who is new in this course: needs the student's
                # Canvas user id from the enroll operation's response
                rows.append(_row(course, section, rng.choice(parents), "observer", student["sis_user_id"]))
    # one identity row per key, as SIS exports have
    unique = {tuple(r[c] for c in COLUMNS if c != "status"): r for r in rows}
    return list(unique.values())


def _row(course: dict, section: dict, user: dict, role: str, associated: str) -> dict[str, str]:
    return {
        "course_id": course["sis_course_id"],
        "section_id": section["sis_section_id"],
        "user_id": user["sis_user_id"],
        "role": role,
        "status": "active",
        "associated_user_id": associated,
    }


def write_roster(rows: Sequence[dict[str, str]], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_config(path: Path, *, url: str, state_dir: Path, concurrency: int = 8, extra: str = "") -> Path:
    path.write_text(
        f"canvas:\n  url: {url}\n  concurrency: {concurrency}\n  retries: 8\n"
        f"guards:\n  max_drops: 100000\n  max_drop_percent: 100\n"
        f"state_dir: {state_dir}\n{extra}",
        encoding="utf-8",
    )
    return path


def config_for(path: Path, url: str) -> Config:
    return load_config(path, env={"CANVAS_API_URL": url})


def plan_live(
    paths: Sequence[str | Path], *, config: Config, client: Any, courses: Sequence[str] | None = None
) -> Plan:
    """A plan from rosters against live Canvas (the pipeline when present)."""
    try:
        from reconcile.pipeline import make_plan
    except ImportError:
        make_plan = None
    if make_plan is not None:
        plan, _ = make_plan([str(p) for p in paths], config=config, client=client, courses=courses)
        return plan
    from reconcile.planner import build_plan
    from reconcile.roster.load import load_rosters

    roster = load_rosters([str(p) for p in paths], config=config)
    assert roster.ok, roster.errors[:5]
    scope = sorted(set(roster.desired["course"].dropna()) | set(config.manage.courses))
    current = client.fetch_current(scope)
    return build_plan(
        roster.desired,
        current,
        config,
        now=dt.datetime.now(dt.timezone.utc),
        inputs=roster.inputs,
        canvas_url=client.base_url,
        only_courses=courses,
    )


def sim_env(url: str, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CANVAS_API_URL": url, "CANVAS_API_TOKEN": token, "PYTHONPATH": str(ROOT)})
    return env


@contextlib.contextmanager
def sim_process(seed_path: Path, *options: str) -> Iterator[str]:
    """``reconcile sim serve`` in a subprocess; yields its base URL; stops it afterwards."""
    with simulator_process(seed_path, *options, cwd=ROOT) as server:
        yield server.url


def sim_get(url: str, path: str) -> Any:
    import requests

    answer = requests.get(url + path, timeout=30)
    answer.raise_for_status()
    return answer.json()


def sim_put(url: str, path: str, body: dict[str, Any]) -> Any:
    import requests

    answer = requests.put(
        url + path, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30
    )
    answer.raise_for_status()
    return answer.json() if answer.content else None


def reseal(data: dict[str, Any]) -> dict[str, Any]:
    """A plan document that a test edited on purpose (an operation's content, or operations
    left out), made whole again the way the planner would have written it: each request
    derived anew from its content, dangling dependencies and half moves dropped, ids
    recomputed in dependency order, then the summary and the plan id.

    For tests that need a plan Canvas will fail on (a user Canvas does not know), not for
    tampering tests: those must not reseal, and the ones that do check what apply does
    with a plan whose hashes were recomputed after an edit."""
    from dataclasses import replace

    from reconcile.plan import ARRIVAL_ACTIONS, plan_from_dict, plan_to_json
    from reconcile.planner.calls import ASSOCIATED, derive_request
    from reconcile.planner.core import plan_id_of
    from reconcile.planner.links import move_id_of, operation_id
    from reconcile.planner.ops import summarize

    plan = plan_from_dict(data)
    present = {op.id for op in plan.operations}
    halves: dict[str, list[Any]] = {}
    for op in plan.operations:
        if op.move_id:
            halves.setdefault(op.move_id, []).append(op)
    move_ids: dict[str, str | None] = {}
    for move_id, ops in halves.items():
        if len(ops) == 2:
            arrival, drop = sorted(ops, key=lambda o: o.action not in ARRIVAL_ACTIONS)
            move_ids[move_id] = move_id_of(arrival, drop)
        else:
            move_ids[move_id] = None
    new_ids: dict[str, str] = {}
    rebuilt: dict[str, Any] = {}
    pending = list(plan.operations)
    while pending:
        waiting = []
        for op in pending:
            deps = [d for d in op.depends_on if d in present]
            if any(d not in new_ids for d in deps):
                waiting.append(op)
                continue
            held = op.request.params.get(ASSOCIATED)
            source = held.get("from_operation") if isinstance(held, dict) else None
            new = replace(
                op,
                request=derive_request(
                    op.action.value, op.target, op.before, op.after, observee_from=new_ids.get(str(source))
                ),
                depends_on=tuple(sorted(new_ids[d] for d in deps)),
                move_id=move_ids.get(op.move_id) if op.move_id else None,
            )
            new = replace(new, id=operation_id(new))
            new_ids[op.id] = new.id
            rebuilt[op.id] = new
        assert len(waiting) < len(pending), "cyclic dependencies"
        pending = waiting
    operations = tuple(rebuilt[op.id] for op in plan.operations)
    plan = replace(plan, operations=operations, summary=summarize(operations), signature=None)
    plan = replace(plan, plan_id=plan_id_of(plan))
    resealed: dict[str, Any] = json.loads(plan_to_json(plan))
    return resealed
