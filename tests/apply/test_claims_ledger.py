"""The claim set file (DESIGN §4 ``ownership: claimed``) and the journal's ledger queries (what did run R
do to enrollment E, what did the tool last leave there), on real files and a real SQLite journal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconcile.apply import Journal
from reconcile.apply.claims import Claim, ClaimsError, ClaimSet, claims_path
from reconcile.apply.ledger import Ledger
from reconcile.plan import Action, Operation, Plan, Request, Target

URL = "https://canvas.example.edu"


def claim(eid: int, **fields: object) -> Claim:
    base: dict[str, object] = {
        "enrollment_id": eid,
        "course": "sis_course_id:MATH101",
        "role": "StudentEnrollment",
        "user": f"sis_user_id:s{eid}",
        "section": "sis_section_id:MATH101-01",
        "course_id": 11,
        "section_id": 101,
        "user_id": eid + 1000,
        "claimed_at": "2026-09-01T00:00:00.000Z",
        "run_id": "run-1",
        "plan_id": "p" * 24,
        "how": "matched",
    }
    base.update(fields)
    return Claim(**base)  # type: ignore[arg-type]


def test_claim_set_round_trips_and_keeps_the_first_claim(tmp_path: Path) -> None:
    claims = ClaimSet.load(tmp_path, canvas_url=URL, account="self")
    assert len(claims) == 0 and not claims.path.exists()
    assert claims.add([claim(1), claim(2, user='sis_user_id:a,b "quoted"')]) == 2
    claims.save()
    assert claims.add([claim(2, run_id="run-2", how="created"), claim(3)]) == 1
    claims.save()
    again = ClaimSet.load(tmp_path, canvas_url=URL + "/", account="self")
    assert again.ids().tolist() == [1, 2, 3]
    second = next(c for c in again.records() if c.enrollment_id == 2)
    assert second.run_id == "run-1" and second.how == "matched"  # never rewritten
    assert second.user == 'sis_user_id:a,b "quoted"'
    assert again.ids_without(plan_id="p" * 24).tolist() == []
    assert set(again.by_course()) == {"sis_course_id:MATH101"}


def test_one_file_per_canvas_and_account_with_no_paths_inside(tmp_path: Path) -> None:
    a = claims_path(tmp_path, canvas_url=URL, account="self")
    assert a != claims_path(tmp_path, canvas_url="https://other.example.edu", account="self")
    assert a != claims_path(tmp_path, canvas_url=URL, account="2")
    claims = ClaimSet.load(tmp_path, canvas_url=URL, account="self")
    claims.add([claim(7)])
    claims.save()
    text = claims.path.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and text.startswith("# canvas-reconcile claim set {")
    # the state dir moves (or is restored from a backup elsewhere): the claims come along
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path, moved)
    assert ClaimSet.load(moved, canvas_url=URL, account="self").ids().tolist() == [7]


def test_a_claim_set_of_another_canvas_is_refused(tmp_path: Path) -> None:
    claims = ClaimSet.load(tmp_path, canvas_url=URL, account="self")
    claims.add([claim(1)])
    claims.save()
    other = claims.path.parent / claims_path(tmp_path, canvas_url="https://x.example", account="self").name
    shutil.copy(claims.path, other)
    with pytest.raises(ClaimsError, match=r":1: this claim set belongs to https://canvas.example.edu"):
        ClaimSet.load(tmp_path, canvas_url="https://x.example", account="self")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: ["enrollment_id,course\n", *lines[2:]], r":1: not a claim set"),
        (lambda lines: [lines[0], "enrollment_id,course\n", *lines[2:]], r":2: missing column course_id"),
        (
            lambda lines: [*lines[:3], lines[3].replace("2,", "x2,", 1)],
            r":4: column enrollment_id: not a Canvas id",
        ),
        (
            lambda lines: [*lines[:3], lines[3].replace("matched", "stolen")],
            r":4: column how: must be one of",
        ),
        (lambda lines: [*lines, lines[2]], r":5: column enrollment_id: claimed twice"),
        (
            lambda lines: [lines[0].replace('"format_version": 1', '"format_version": 9'), *lines[1:]],
            r":1: claim set format",
        ),
    ],
)
def test_a_bad_claim_set_names_file_line_and_column(tmp_path: Path, edit, message: str) -> None:
    claims = ClaimSet.load(tmp_path, canvas_url=URL, account="self")
    claims.add([claim(1), claim(2)])
    claims.save()
    lines = claims.path.read_text(encoding="utf-8").splitlines(keepends=True)
    claims.path.write_text("".join(edit(lines)), encoding="utf-8")
    with pytest.raises(ClaimsError, match=message) as caught:
        ClaimSet.load(tmp_path, canvas_url=URL, account="self")
    assert str(claims.path) in str(caught.value)


def operation(op_id: str, action: Action, *, before: dict | None) -> Operation:
    return Operation(
        id=op_id,
        action=action,
        target=Target(
            course="sis_course_id:MATH101", section=None, user="sis_user_id:s1", role="StudentEnrollment"
        ),
        request=Request("DELETE", "/api/v1/courses/11/enrollments/5", {"task": "conclude"}),
        reason="absent_from_roster",
        before=before,
    )


def plan_with(*ops: Operation, plan_id: str = "a" * 24, policy: dict | None = None) -> Plan:
    return Plan(
        plan_id=plan_id,
        created_at="2026-09-01T00:00:00Z",
        tool_version="t",
        canvas_url=URL,
        inputs=(),
        policy=policy or {},
        fingerprints={},
        operations=ops,
        summary={},
    )


def test_ledger_answers_what_a_run_did_and_what_was_last_left(tmp_path: Path) -> None:
    conclude = operation("c" * 16, Action.CONCLUDE, before={"id": 5, "state": "active"})
    plan = plan_with(conclude)
    with Journal.in_state_dir(tmp_path) as journal:
        journal.start_run("run-1", plan_id=plan.plan_id, canvas_url=URL, who={}, overrides={})
        journal.register_operations(
            plan.plan_id,
            [
                {
                    "op_id": conclude.id,
                    "seq": 0,
                    "action": "conclude",
                    "course": "c",
                    "section": None,
                    "user": "u",
                    "role": "r",
                }
            ],
        )
        journal.mark_started(plan.plan_id, conclude.id, run_id="run-1")
        journal.mark_finished(
            plan.plan_id,
            conclude.id,
            run_id="run-1",
            status="done",
            response={
                "id": 5,
                "enrollment_state": "completed",
                "course_section_id": 101,
                "user": {"nested": 1},
            },
        )
        journal.end_run("run-1", outcome="ok", counts={})
        with Ledger(journal) as ledger:
            ledger.remember_plan(plan)
            ledger.remember_plan(plan)  # once per plan id
            run, stored, effects = ledger.run_effects("run")
            assert run.run_id == "run-1" and stored == plan
            assert [(e.operation.id, e.record.enrollment_id) for e in effects] == [(conclude.id, 5)]
            # an observation older than the write loses; a newer one wins
            ledger.observe(
                "run-0", [(5, "c", {"id": 5, "enrollment_state": "active"})], at="2000-01-01T00:00:00.000Z"
            )
            left = ledger.last_left([5])
            assert (
                left[5].state == "completed" and left[5].source == "operation" and left[5].run_id == "run-1"
            )
            ledger.observe(
                "run-2", [(5, "c", {"id": 5, "enrollment_state": "inactive"})], at="2999-01-01T00:00:00.000Z"
            )
            assert ledger.last_left()[5].state == "inactive"
            assert ledger.last_left([6]) == {}
            with pytest.raises(KeyError):
                ledger.run_effects("nope")
        assert journal.runs()  # the engine's journal stays open after the ledger closes


def test_ledger_knows_undo_runs_and_courses_seen(tmp_path: Path) -> None:
    undo = plan_with(plan_id="b" * 24, policy={"undo": {"run_id": "run-1", "only": None}})
    with Ledger.in_state_dir(tmp_path) as ledger:
        ledger.remember_plan(undo)
        ledger.journal.start_run("run-9", plan_id=undo.plan_id, canvas_url=URL, who={}, overrides={})
        assert ledger.undone_by() == {}  # still running: not undone yet
        ledger.journal.end_run("run-9", outcome="ok", counts={"restore": {"applied": 1}})
        ledger.journal.start_run("run-10", plan_id=undo.plan_id, canvas_url=URL, who={}, overrides={})
        ledger.journal.end_run("run-10", outcome="ok", counts={"restore": {"done_earlier": 1}})
        assert ledger.undone_by() == {"run-1": ["run-9"]}  # a resumed re-run changed nothing
        ledger.saw_courses(
            "run-9", {"sis_course_id:A": "2026-09-01T00:00:00Z", "sis_course_id:B": None}, at="t1"
        )
        assert ledger.courses_seen() == {
            "sis_course_id:A": ("t1", "2026-09-01T00:00:00Z"),
            "sis_course_id:B": ("t1", None),
        }
        assert ledger.run_effects("run-9")[2] == []
