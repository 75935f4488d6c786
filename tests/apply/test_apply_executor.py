"""The executor against an in-memory Canvas: order, dependencies, idempotence, resume."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from apply_fakes import FakeCanvas, drop, enroll, last_attended, make_plan, reactivate

from reconcile.apply import journal as jr
from reconcile.apply.executor import HELD, RESUMED, VERIFIED, Aborted, Executor
from reconcile.canvas.errors import BadRequest, NotFound


def run(plan, canvas: FakeCanvas, journal: jr.Journal, *, run_id: str = "r1", parallelism: int = 4):
    return Executor(plan, sender=canvas, journal=journal, run_id=run_id, parallelism=parallelism).run()


@pytest.fixture()
def journal(tmp_path: Path):
    with jr.Journal.in_state_dir(tmp_path) as j:
        yield j


def test_every_operation_is_applied_and_journaled(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    old = canvas.add("C1", "sis_user_id:gone", "StudentEnrollment", "active")
    plan = make_plan(
        enroll("C1", "sis_user_id:s1"), enroll("C1", "sis_user_id:s2"), drop("C1", "sis_user_id:gone", old)
    )
    outcomes = run(plan, canvas, journal)
    assert sorted(o.status for o in outcomes) == ["done"] * 3
    states = sorted(r["enrollment_state"] for r in canvas.enrollments.values())
    assert states == ["active", "active", "deleted"]
    records = journal.operations("plan-1")
    assert {r.status for r in records.values()} == {"done"}
    assert all(r.attempts == 1 and r.ended_at for r in records.values())
    created = records["enroll-C1-sis_user_id:s1-StudentEnrollment"]
    assert created.enrollment_id is not None and created.enrollment_state == "active"
    assert "grades" not in (created.response or {})


def test_phases_run_changes_then_dependants_then_last_attended_then_drops(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    old = canvas.add("C1", "sis_user_id:old", "StudentEnrollment", "active")
    student = enroll("C1", "sis_user_id:kid")
    observer = enroll(
        "C1",
        "sis_user_id:parent",
        role="ObserverEnrollment",
        associated_user="sis_user_id:kid",
        params={"enrollment[associated_user_id]": {"from_operation": student.id, "field": "user_id"}},
        depends_on=(student.id,),
    )
    kid_id = canvas.user_id("sis_user_id:kid")
    # plan order deliberately scrambled: the executor must impose the phases itself
    plan = make_plan(drop("C1", "sis_user_id:old", old), last_attended("C1", kid_id), observer, student)
    run(plan, canvas, journal, parallelism=8)
    kinds = [
        ("drop" if m == "DELETE" else "last" if p.endswith("last_attended") else "post")
        for m, p in canvas.writes
    ]
    assert kinds == ["post", "post", "last", "drop"]
    observer_row = next(r for r in canvas.enrollments.values() if r["role"] == "ObserverEnrollment")
    assert observer_row["associated_user_id"] == kid_id


def test_failed_dependency_skips_the_dependant_and_the_rest_goes_on(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    student = enroll("C1", "sis_user_id:kid")
    observer = enroll(
        "C1",
        "sis_user_id:parent",
        role="ObserverEnrollment",
        params={"enrollment[associated_user_id]": {"from_operation": student.id, "field": "user_id"}},
    )
    canvas.fail["/api/v1/courses/C1/enrollments"] = BadRequest(
        "HTTP 400", status=400, canvas_message="Invalid role"
    )
    other = enroll("C2", "sis_user_id:x")
    outcomes = {o.operation.id: o for o in run(make_plan(student, observer, other), canvas, journal)}
    assert outcomes[student.id].status == "failed" and "Invalid role" in (outcomes[student.id].error or "")
    assert outcomes[observer.id].status == "skipped" and student.id in (outcomes[observer.id].error or "")
    assert outcomes[other.id].status == "done"
    assert journal.operations("plan-1")[observer.id].status == "skipped"


def test_move_drop_waits_for_its_enroll_half_and_is_skipped_when_it_fails(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    old = canvas.add("C1", "sis_user_id:s1", "StudentEnrollment", "active", section="A")
    new_half = enroll("C1", "sis_user_id:s1", params={"enrollment[course_section_id]": "B"}, move_id="m1")
    old_half = drop("C1", "sis_user_id:s1", old, move_id="m1")
    canvas.fail["/api/v1/courses/C1/enrollments"] = NotFound(
        "HTTP 404", status=404, canvas_message="no section"
    )
    outcomes = {o.operation.id: o.status for o in run(make_plan(old_half, new_half), canvas, journal)}
    assert outcomes == {new_half.id: "failed", old_half.id: "skipped"}
    assert canvas.enrollments[old]["enrollment_state"] == "active"  # never dropped without the new half
    canvas.fail.clear()
    run(make_plan(old_half, new_half), canvas, journal, run_id="r2")
    assert canvas.writes == [
        ("POST", "/api/v1/courses/C1/enrollments"),
        ("DELETE", f"/api/v1/courses/C1/enrollments/{old}"),
    ]


def test_effects_that_already_hold_are_done_not_failed(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    deleted = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "deleted")
    active = canvas.add("C1", "sis_user_id:b", "StudentEnrollment", "active")
    completed = canvas.add("C1", "sis_user_id:c", "StudentEnrollment", "completed")
    plan = make_plan(
        drop("C1", "sis_user_id:a", deleted),  # 404 on a deleted row
        reactivate("C1", "sis_user_id:b", active),  # 400 "enrollment not inactive"
        drop("C1", "sis_user_id:c", completed, task="inactivate", op_id="inact"),  # 200, normal
    )
    outcomes = {o.operation.id: o for o in run(plan, canvas, journal)}
    assert outcomes[f"delete-{deleted}"].how == HELD
    assert outcomes[f"reactivate-{active}"].how == HELD
    assert outcomes["inact"].status == "done"
    assert "404" in (journal.operations("plan-1")[f"delete-{deleted}"].note or "")


def test_a_404_whose_effect_does_not_hold_is_a_failure(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    deleted = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "deleted")
    outcomes = run(make_plan(drop("C1", "sis_user_id:a", deleted, task="conclude")), canvas, journal)
    assert outcomes[0].status == "failed"
    assert "The specified resource does not exist." in (outcomes[0].error or "")


def test_rerun_of_a_finished_plan_sends_nothing(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    plan = make_plan(*(enroll("C1", f"sis_user_id:s{n}") for n in range(20)))
    run(plan, canvas, journal)
    writes = len(canvas.writes)
    outcomes = run(plan, canvas, journal, run_id="r2")
    assert len(canvas.writes) == writes == 20
    assert {o.how for o in outcomes} == {RESUMED}


def test_started_operation_whose_effect_holds_is_verified_without_a_write(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    eid = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "active")
    op = drop("C1", "sis_user_id:a", eid, task="conclude")
    plan = make_plan(op)
    # an earlier run sent the request and died before journaling the answer
    journal.register_operations(
        "plan-1",
        [
            {
                "op_id": op.id,
                "seq": 0,
                "action": "conclude",
                "course": "C1",
                "section": None,
                "user": "u",
                "role": "StudentEnrollment",
            }
        ],
    )
    journal.mark_started("plan-1", op.id, run_id="r0")
    canvas.enrollments[eid]["enrollment_state"] = "completed"
    outcomes = run(plan, canvas, journal, run_id="r1")
    assert outcomes[0].how == VERIFIED and canvas.writes == []
    assert journal.operations("plan-1")[op.id].attempts == 1


def test_started_operation_without_effect_is_sent_again(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    eid = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "active")
    op = drop("C1", "sis_user_id:a", eid, task="conclude")
    journal.register_operations(
        "plan-1",
        [
            {
                "op_id": op.id,
                "seq": 0,
                "action": "conclude",
                "course": "C1",
                "section": None,
                "user": "u",
                "role": "StudentEnrollment",
            }
        ],
    )
    journal.mark_started("plan-1", op.id, run_id="r0")
    run(make_plan(op), canvas, journal)
    assert canvas.enrollments[eid]["enrollment_state"] == "completed"
    assert len(canvas.writes) == 1 and journal.operations("plan-1")[op.id].attempts == 2


def test_lost_answer_is_read_back_once_and_recorded_done_not_failed(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    eid = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "active")
    add = enroll("C1", "sis_user_id:new")
    remove = drop("C1", "sis_user_id:a", eid)
    canvas.lose_answer = {add.request.path, remove.request.path}
    first = {o.operation.id: (o.status, o.how) for o in run(make_plan(add, remove), canvas, journal)}
    assert first == {add.id: ("done", VERIFIED), remove.id: ("done", VERIFIED)}
    assert canvas.reads == 2  # one read each, no more
    notes = {r.op_id: r.note or "" for r in journal.operations("plan-1").values()}
    assert all("answers were lost" in note for note in notes.values())
    second = {o.operation.id: o.how for o in run(make_plan(add, remove), canvas, journal, run_id="r2")}
    assert second == {add.id: RESUMED, remove.id: RESUMED}
    assert len(canvas.enrollments) == 2 and len(canvas.writes) == 2  # nothing sent twice


def test_a_request_that_never_landed_is_failed_after_one_read(journal: jr.Journal) -> None:
    from reconcile.canvas.errors import TransportError

    canvas = FakeCanvas()
    add = enroll("C1", "sis_user_id:new")
    canvas.fail_writes = TransportError("connection reset", method="POST", path=add.request.path)
    (outcome,) = run(make_plan(add), canvas, journal)
    assert outcome.status == "failed" and "connection reset" in (outcome.error or "")
    assert canvas.writes == [] and canvas.reads == 1 and canvas.enrollments == {}


def test_lost_answers_then_rerun_converges_without_duplicates(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    eid = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "active")
    add = enroll("C1", "sis_user_id:new")
    remove = drop("C1", "sis_user_id:a", eid)
    canvas.lose_answer = {add.request.path, remove.request.path}
    canvas.fail_reads = True  # the read-back fails too: both are reported failed this run
    first = {o.operation.id: o.status for o in run(make_plan(add, remove), canvas, journal)}
    assert first == {add.id: "failed", remove.id: "failed"}
    canvas.fail_reads = False
    second = {o.operation.id: o.how for o in run(make_plan(add, remove), canvas, journal, run_id="r2")}
    assert second == {add.id: "applied", remove.id: VERIFIED}
    assert len(canvas.enrollments) == 2  # the re-sent POST was an upsert, not a second row


def test_parallelism_is_bounded(journal: jr.Journal) -> None:
    canvas = FakeCanvas(latency=0.01)
    plan = make_plan(*(enroll("C1", f"sis_user_id:s{n}") for n in range(40)))
    run(plan, canvas, journal, parallelism=3)
    assert canvas.max_in_flight == 3


def test_refused_token_stops_the_run(journal: jr.Journal) -> None:
    canvas = FakeCanvas(token_ok=False)
    plan = make_plan(*(enroll("C1", f"sis_user_id:s{n}") for n in range(30)))
    executor = Executor(plan, sender=canvas, journal=journal, run_id="r1", parallelism=2)
    with pytest.raises(Aborted, match="Invalid access token"):
        executor.run()
    statuses = [r.status for r in journal.operations("plan-1").values()]
    assert statuses.count("failed") <= 2 and statuses.count("pending") >= 28


def test_missing_placeholder_source_is_reported(journal: jr.Journal) -> None:
    canvas = FakeCanvas()
    observer = enroll(
        "C1",
        "sis_user_id:p",
        params={"enrollment[associated_user_id]": {"from_operation": "nope", "field": "user_id"}},
    )
    outcomes = run(make_plan(observer), canvas, journal)
    assert outcomes[0].status == "skipped" and "nope" in (outcomes[0].error or "")
    assert canvas.writes == []


def test_canvas_unreachable_stops_the_run_instead_of_failing_everything(journal: jr.Journal) -> None:
    from reconcile.canvas.errors import TransportError

    canvas = FakeCanvas()
    canvas.fail["/api/v1/courses/C1/enrollments"] = TransportError(
        "connection refused", method="POST", path="/x"
    )
    plan = make_plan(*(enroll("C1", f"sis_user_id:s{n}") for n in range(100)), enroll("C2", "sis_user_id:ok"))
    executor = Executor(
        plan, sender=canvas, journal=journal, run_id="r1", parallelism=2, unreachable_after=10
    )
    with pytest.raises(Aborted, match="10 operations in a row failed"):
        executor.run()
    statuses = Counter(r.status for r in journal.operations("plan-1").values())
    assert 10 <= statuses["failed"] <= 12 and statuses["pending"] >= 85


def test_a_success_resets_the_unreachable_count(journal: jr.Journal) -> None:
    from reconcile.canvas.errors import ServerError

    canvas = FakeCanvas()
    canvas.fail["/api/v1/courses/C1/enrollments"] = ServerError("HTTP 503", status=503)
    ops = []
    for n in range(30):  # alternate failing and working courses
        ops.append(enroll("C1", f"sis_user_id:s{n}"))
        ops.append(enroll("C2", f"sis_user_id:s{n}"))
    outcomes = Executor(
        make_plan(*ops), sender=canvas, journal=journal, run_id="r1", parallelism=1, unreachable_after=3
    ).run()
    assert Counter(o.status for o in outcomes) == {"failed": 30, "done": 30}


def test_each_course_is_rechecked_once_before_its_first_write(journal: jr.Journal) -> None:
    import threading
    import time

    canvas = FakeCanvas(latency=0.005)
    ops = [enroll(course, f"sis_user_id:s{n}") for course in ("C1", "C2", "C3", "C4") for n in range(6)]
    calls: list[str] = []
    in_check = [0, 0]  # now, most at once
    lock = threading.Lock()

    def gate(course: str):  # type: ignore[no-untyped-def]
        with lock:
            calls.append(course)
            in_check[0] += 1
            in_check[1] = max(in_check)
        time.sleep(0.05)
        with lock:
            in_check[0] -= 1
        assert not any(path.startswith(f"/api/v1/courses/{course}/") for _, path in canvas.writes)
        if course == "C2":
            return None  # changed by someone else: not touched
        return {ops[0].id: {"id": 77, "user_id": 5}} if course == "C1" else {}

    outcomes = Executor(
        make_plan(*ops), sender=canvas, journal=journal, run_id="r1", parallelism=4, course_gate=gate
    ).run()
    assert sorted(calls) == ["C1", "C2", "C3", "C4"]  # once each
    assert in_check[1] > 1  # the checks ran ahead of the writes, side by side
    by_id = {o.operation.id: o for o in outcomes}
    assert by_id[ops[0].id].how == HELD  # already in effect: not sent
    skipped = [o for o in outcomes if o.status == "skipped"]
    assert {o.operation.target.course for o in skipped} == {"C2"} and len(skipped) == 6
    assert all("changed in Canvas after this run's stale check" in (o.error or "") for o in skipped)
    assert len(canvas.writes) == len(ops) - 6 - 1
