"""apply_plan's refusals and resume logic, against the in-memory Canvas."""

from __future__ import annotations

from pathlib import Path

import pytest
from apply_fakes import FakeClient, current_frame, drop, enroll, make_plan

from reconcile.apply import (
    GuardTripped,
    Journal,
    LockHeld,
    RefreshDeclined,
    StalePlan,
    WrongCanvas,
    apply_plan,
)
from reconcile.apply.lock import ApplyLock
from reconcile.config import CanvasSettings, Config
from reconcile.plan import GuardResult
from reconcile.planner.fingerprint import fingerprint

CONFIG = Config(canvas=CanvasSettings(url="http://127.0.0.1:9"))


def _canvas() -> tuple[FakeClient, int]:
    canvas = FakeClient()
    eid = canvas.add("C1", "sis_user_id:a", "StudentEnrollment", "active")
    canvas.add("C1", "sis_user_id:b", "StudentEnrollment", "active")
    return canvas, eid


def _plan(canvas: FakeClient, *ops, **kw):
    return make_plan(*ops, fingerprints=fingerprint(current_frame(canvas, ["C1"]), courses=["C1"]), **kw)


def test_apply_then_reapply_makes_no_writes(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, enroll("C1", "sis_user_id:new"), drop("C1", "sis_user_id:a", eid))
    first = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert first.exit_code == 0 and not first.resumed
    assert first.counts() == {"delete": {"applied": 1}, "enroll": {"applied": 1}}
    writes = len(canvas.writes)
    second = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert second.exit_code == 0 and second.resumed  # not refused as stale by our own writes
    assert len(canvas.writes) == writes
    assert second.counts() == {"delete": {"done_earlier": 1}, "enroll": {"done_earlier": 1}}
    with Journal.in_state_dir(tmp_path) as journal:
        assert [r.outcome for r in journal.runs()] == ["ok", "ok"]


def test_stale_plan_is_refused_and_journaled(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    canvas.enrollments[2]["enrollment_state"] = "inactive"  # a teacher's hand edit
    with pytest.raises(StalePlan) as info:
        apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert info.value.courses == ("C1",) and canvas.writes == []
    with Journal.in_state_dir(tmp_path) as journal:
        assert journal.runs()[0].outcome == "stale"


def test_refresh_replans_and_applies_the_new_plan(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    stale_plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    canvas.enrollments[2]["enrollment_state"] = "inactive"
    asked: list = []

    def replan(courses):
        asked.append(courses)
        return _plan(canvas, drop("C1", "sis_user_id:a", eid), plan_id="plan-2")

    reviews: list = []
    result = apply_plan(
        stale_plan,
        client=canvas,
        config=CONFIG,
        state_dir=tmp_path,
        refresh=True,
        replan=replan,
        confirm_refresh=lambda old, new: reviews.append((old.plan_id, new.plan_id)),
    )
    assert result.refreshed and result.plan.plan_id == "plan-2" and result.exit_code == 0
    assert asked == [None]
    assert reviews == [("plan-1", "plan-2")]  # the new plan was put to a review before it ran
    assert result.reviewed_plan_id == "plan-1"
    with Journal.in_state_dir(tmp_path) as journal:
        run = journal.runs()[0]
    assert run.plan_id == "plan-2" and run.overrides["reviewed_plan_id"] == "plan-1"


def test_a_declined_refresh_writes_nothing_and_is_journaled(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    stale_plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    canvas.enrollments[2]["enrollment_state"] = "inactive"

    def decline(old, new):
        raise RefreshDeclined("not approved")

    with pytest.raises(RefreshDeclined):
        apply_plan(
            stale_plan,
            client=canvas,
            config=CONFIG,
            state_dir=tmp_path,
            refresh=True,
            replan=lambda courses: _plan(canvas, drop("C1", "sis_user_id:a", eid), plan_id="plan-2"),
            confirm_refresh=decline,
        )
    assert canvas.writes == []
    with Journal.in_state_dir(tmp_path) as journal:
        run = journal.runs()[0]
    assert run.outcome == "declined" and run.plan_id == "plan-2"
    assert run.overrides["reviewed_plan_id"] == "plan-1"


def test_a_guarded_plan_is_refused_before_any_request(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    guard = GuardResult(name="max_drops", tripped=True, message="too many")
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid), guards=(guard,))
    fetched: list = []
    canvas.fetch_current = lambda refs: fetched.append(refs)  # type: ignore[method-assign]
    with pytest.raises(GuardTripped):
        apply_plan(
            plan,
            client=canvas,
            config=CONFIG,
            state_dir=tmp_path,
            refresh=True,
            replan=lambda c: plan,
            confirm_refresh=lambda a, b: None,
        )
    assert fetched == [] and canvas.writes == []


def test_hold_drops_runs_the_rest_and_a_later_allow_drops_only_the_held(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    other = next(i for i, r in canvas.enrollments.items() if i != eid)
    guard = GuardResult(name="max_drop_percent", tripped=True, message="too many")
    plan = _plan(
        canvas,
        enroll("C1", "sis_user_id:new"),
        drop("C1", "sis_user_id:a", eid),
        drop("C1", "sis_user_id:b", other, task="conclude", move_id="m1"),  # a move's half: not a removal
        guards=(guard,),
    )
    held = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path, hold_drops=True)
    assert held.exit_code == 3
    assert [o.operation.id for o in held.held] == [f"delete-{eid}"]
    assert held.counts() == {"conclude": {"applied": 1}, "delete": {"held": 1}, "enroll": {"applied": 1}}
    assert canvas.enrollments[eid]["enrollment_state"] == "active"
    writes = len(canvas.writes)
    with Journal.in_state_dir(tmp_path) as journal:
        assert journal.runs()[0].outcome == "held"
        assert journal.operations(plan.plan_id)[f"delete-{eid}"].status == "held"
    rest = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path, allow_drops=True)
    assert rest.exit_code == 0 and rest.resumed
    assert rest.counts() == {
        "conclude": {"done_earlier": 1},
        "delete": {"applied": 1},
        "enroll": {"done_earlier": 1},
    }
    assert len(canvas.writes) == writes + 1  # the held delete, and nothing repeated
    assert canvas.enrollments[eid]["enrollment_state"] == "deleted"


def test_hold_drops_on_an_untripped_plan_holds_nothing(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    result = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path, hold_drops=True)
    assert result.exit_code == 0 and result.held == ()
    assert canvas.enrollments[eid]["enrollment_state"] == "deleted"


def test_guards_refuse_unless_overridden_and_the_override_is_journaled(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    guard = GuardResult(name="max_drops", tripped=True, message="3 drops exceed max_drops 1")
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid), guards=(guard,))
    with pytest.raises(GuardTripped, match="max_drops"):
        apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert canvas.writes == []
    result = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path, allow_drops=True)
    assert result.exit_code == 0
    with Journal.in_state_dir(tmp_path) as journal:
        latest = journal.runs()[0]
        assert latest.overrides["allow_drops"] is True and latest.overrides["guards_overridden"] == [
            "max_drops"
        ]


def test_lock_held_refuses_before_any_request(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    held = ApplyLock(tmp_path, canvas_url=CONFIG.canvas.url).acquire(plan_id="other")
    try:
        with pytest.raises(LockHeld):
            apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    finally:
        held.release()
    assert canvas.writes == [] and canvas.reads == 0


def test_plan_for_another_canvas_is_refused(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, drop("C1", "sis_user_id:a", eid))
    from dataclasses import replace

    with pytest.raises(WrongCanvas):
        apply_plan(
            replace(plan, canvas_url="https://other.example"),
            client=canvas,
            config=CONFIG,
            state_dir=tmp_path,
        )


def test_failures_exit_5_and_resume_finishes_only_the_rest(tmp_path: Path) -> None:
    from reconcile.canvas.errors import ServerError

    canvas, eid = _canvas()
    ops = [enroll("C1", f"sis_user_id:s{n}") for n in range(5)] + [drop("C1", "sis_user_id:a", eid)]
    plan = _plan(canvas, *ops)
    canvas.fail[f"/api/v1/courses/C1/enrollments/{eid}"] = ServerError(
        "HTTP 503", status=503, canvas_message="down"
    )
    first = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert first.exit_code == 5 and [o.operation.id for o in first.failures] == [ops[-1].id]
    assert "503" in (first.failures[0].error or "")
    canvas.fail.clear()
    writes = len(canvas.writes)
    second = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path)
    assert second.exit_code == 0 and second.resumed
    assert len(canvas.writes) == writes + 1


def test_token_refused_mid_run_stops_with_exit_1_and_the_run_is_journaled_aborted(tmp_path: Path) -> None:
    canvas, eid = _canvas()
    plan = _plan(canvas, *(enroll("C1", f"sis_user_id:s{n}") for n in range(10)))
    canvas.token_ok = False  # e.g. the token was revoked after the stale check
    result = apply_plan(plan, client=canvas, config=CONFIG, state_dir=tmp_path, parallelism=2)
    assert result.exit_code == 1 and "Invalid access token" in (result.aborted or "")
    with Journal.in_state_dir(tmp_path) as journal:
        assert journal.runs()[0].outcome == "aborted"
