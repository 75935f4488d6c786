"""``manage.ownership: claimed`` (DESIGN §4), ``policy.drift`` (DESIGN §7 "Drift and undo") and the
undo-only demote path, on plain frames: pure planner code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reconcile.config import PolicySettings
from reconcile.plan import Action
from reconcile.planner.drift import satisfied
from reconcile.planner.keys import CODE
from reconcile.planner.ownership import Claims, claims_digest

from .factory import COURSE, config, have, plan_of, want


def claims_of(*rows: dict, left: dict[int, str] | None = None) -> Claims:
    return Claims.of([row["id"] for row in rows], left=left)


def drift_config(policy: str, **kwargs):
    base = config(**kwargs)
    return dataclasses.replace(base, policy=dataclasses.replace(base.policy, drift=policy))


# --- ownership: claimed --------------------------------------------------------------


def test_claimed_drops_only_claimed_enrollments_and_counts_the_rest() -> None:
    ours, theirs, gone = have("ours"), have("theirs"), have("gone", state="completed")
    plan = plan_of(
        [want("s1")], [ours, theirs, gone], cfg=config(ownership="claimed"), claims=claims_of(ours)
    )
    assert [(op.action, op.target.user) for op in plan.operations] == [
        (Action.ENROLL, "sis_user_id:s1"),
        (Action.CONCLUDE, "sis_user_id:ours"),
    ]
    # only live unclaimed rows count: a concluded one is not "left" anywhere
    assert plan.summary["not_claimed"] == 1
    assert plan.unmanaged == {COURSE: 2}


def test_claimed_without_a_claim_set_drops_nothing() -> None:
    plan = plan_of([want("s1")], [have("s1"), have("other")], cfg=config(ownership="claimed"))
    assert plan.operations == ()
    assert plan.summary["not_claimed"] == 1
    assert plan.claims is None


def test_a_roster_row_claims_what_it_matches_and_changes_it() -> None:
    unclaimed = have("s1", state="inactive", sis_import_id=None)
    plan = plan_of([want("s1")], [unclaimed], cfg=config(ownership="claimed"), claims=Claims.none())
    (op,) = plan.operations
    assert op.action is Action.REACTIVATE and op.before["id"] == unclaimed["id"]
    assert plan.claims == {"digest": claims_digest([]), "count": 0, "new": {COURSE: [unclaimed["id"]]}}
    assert "not_claimed" in plan.summary and plan.summary["not_claimed"] == 0


def test_new_claims_list_only_matched_rows_not_yet_claimed() -> None:
    a, b, c = have("a"), have("b"), have("c")
    plan = plan_of([want("a"), want("b")], [a, b, c], claims=claims_of(a))
    assert plan.claims is not None
    assert plan.claims["new"] == {COURSE: [b["id"]]}
    assert plan.claims["count"] == 1 and plan.claims["digest"] == claims_digest([a["id"]])
    # ownership all still drops the unmatched row: claims only record, they do not limit
    assert [op.target.user for op in plan.operations] == ["sis_user_id:c"]


def test_claim_digest_ignores_order_and_repeats() -> None:
    assert claims_digest([3, 1, 2, 2]) == claims_digest(np.array([1, 2, 3])) != claims_digest([1, 2])


def test_claimed_plan_records_digest_so_apply_can_refuse_a_changed_set() -> None:
    row = have("s1")
    first = plan_of([want("s1")], [row], cfg=config(ownership="claimed"), claims=claims_of(row))
    second = plan_of([want("s1")], [row], cfg=config(ownership="claimed"), claims=Claims.none())
    assert first.claims["digest"] != second.claims["digest"]
    assert first.plan_id != second.plan_id
    assert first.policy["scope"]["ownership"] == "claimed"


# --- policy.drift ----------------------------------------------------------------------

S = CODE


@pytest.mark.parametrize(
    ("status", "state", "met"),
    [
        ("active", "active", True),
        ("active", "completed", False),
        ("invited", "creation_pending", True),
        ("inactive", "inactive", True),
        ("completed", "completed", True),
        ("deleted", "deleted", True),
        ("deleted_last_completed", "completed", True),
        ("deleted_last_completed", "deleted", True),
        ("deleted_last_completed", "active", False),
    ],
)
def test_satisfied_table(status: str, state: str, met: bool) -> None:
    assert satisfied(np.array([S[status]], dtype="int8"), np.array([S[state]], dtype="int8")).tolist() == [
        met
    ]


def concluded_by_hand() -> tuple[dict, Claims]:
    row = have("s1", state="completed", updated_at="2026-09-10T08:30:00Z")
    return row, claims_of(row, left={row["id"]: "active"})


def test_revert_restores_a_hand_concluded_student() -> None:
    row, claims = concluded_by_hand()
    plan = plan_of([want("s1")], [row], cfg=drift_config("revert"), claims=claims)
    assert [op.action for op in plan.operations] == [Action.RESTORE]
    assert not [w for w in plan.warnings if w.code.startswith("drift")]


def test_keep_leaves_the_hand_change_and_says_when() -> None:
    row, claims = concluded_by_hand()
    plan = plan_of([want("s1")], [row], cfg=drift_config("keep"), claims=claims)
    assert plan.operations == ()
    (kept,) = plan.warnings
    assert kept.code == "drift_kept" and kept.user == "sis_user_id:s1"
    assert kept.message.startswith("kept: changed in Canvas on 2026-09-10T08:30:00Z (active -> completed)")
    assert kept.origin == ("roster.csv:2",)


def test_warn_reverts_and_warns() -> None:
    row, claims = concluded_by_hand()
    plan = plan_of([want("s1")], [row], cfg=drift_config("warn"), claims=claims)
    assert [op.action for op in plan.operations] == [Action.RESTORE]
    assert [w.code for w in plan.warnings] == ["drift_reverted"]
    assert "2026-09-10T08:30:00Z" in plan.warnings[0].message


def test_keep_gives_way_when_the_roster_status_changes() -> None:
    row, claims = concluded_by_hand()  # the tool left it active, a teacher concluded it
    plan = plan_of([want("s1", status="inactive")], [row], cfg=drift_config("keep"), claims=claims)
    assert [op.action for op in plan.operations] == [Action.INACTIVATE]
    assert plan.warnings == ()


def test_keep_only_concerns_claimed_rows_with_a_record() -> None:
    row = have("s1", state="completed")
    for claims in (Claims.none(), claims_of(row)):  # not claimed; claimed but no record of what was left
        plan = plan_of([want("s1")], [row], cfg=drift_config("keep"), claims=claims)
        assert [op.action for op in plan.operations] == [Action.RESTORE]


def test_keep_does_not_hold_back_attribute_updates_of_unchanged_state() -> None:
    row = have("s1", start_at="2026-09-01T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    claims = claims_of(row, left={row["id"]: "active"})
    wanted = want("s1", dates_managed=True, start_at="2026-09-02T00:00:00Z", end_at="2026-12-01T00:00:00Z")
    plan = plan_of([wanted], [row], cfg=drift_config("keep"), claims=claims)
    assert [op.action for op in plan.operations] == [Action.UPDATE]


def test_keep_leaves_a_dropped_enrollment_revived_by_hand() -> None:
    # the tool concluded it as absent from the roster; a teacher put it back; still absent
    row = have("gone", state="active", updated_at="2026-09-12T10:00:00Z")
    claims = claims_of(row, left={row["id"]: "completed"})
    kept = plan_of([want("s1")], [row], cfg=drift_config("keep", drop="conclude"), claims=claims)
    assert [op.action for op in kept.operations] == [Action.ENROLL]
    assert [w.code for w in kept.warnings] == ["drift_kept"]
    # but a row the tool left active and the roster now omits is dropped as usual
    fresh = claims_of(row, left={row["id"]: "inactive"})
    dropped = plan_of([want("s1")], [row], cfg=drift_config("keep", drop="conclude"), claims=fresh)
    assert [op.action for op in dropped.operations] == [Action.ENROLL, Action.CONCLUDE]


def test_keep_suppresses_the_update_that_goes_with_a_kept_state_change() -> None:
    # inactive by roster, re-activated by hand: the plan would update then inactivate
    row = have("s1", state="active")
    claims = claims_of(row, left={row["id"]: "inactive"})
    wanted = want("s1", status="inactive", limit_managed=True, limit_section_privileges=True)
    revert = plan_of([wanted], [row], cfg=drift_config("revert"), claims=claims)
    assert {op.action for op in revert.operations} == {Action.UPDATE, Action.INACTIVATE}
    kept = plan_of([wanted], [row], cfg=drift_config("keep"), claims=claims)
    assert kept.operations == ()


def test_unknown_drift_policy_is_refused() -> None:
    from reconcile.planner.drift import apply_drift_policy
    from reconcile.planner.warnings import WarningSink

    with pytest.raises(ValueError, match="unknown drift policy"):
        apply_drift_policy(
            None,  # type: ignore[arg-type]
            policy="sometimes",
            drop_policy="conclude",
            desired=None,  # type: ignore[arg-type]
            current=None,  # type: ignore[arg-type]
            left=np.zeros(0, dtype="int8"),
            sink=WarningSink(),
        )


def test_policy_document_records_the_drift_policy() -> None:
    plan = plan_of([want("s1")], [], cfg=drift_config("warn"))
    assert plan.policy["policy"]["drift"] == "warn"
    assert PolicySettings().drift == "revert"


# --- demote (undo only) ----------------------------------------------------------------


def test_an_active_row_cannot_be_demoted_to_invited_by_default() -> None:
    plan = plan_of([want("s1", status="invited")], [have("s1")])
    assert plan.operations == ()
    assert [w.code for w in plan.warnings] == ["cannot_demote"]


def test_demote_goes_through_inactive_then_posts_invited_on_the_same_row() -> None:
    row = have("s1")
    plan = plan_of([want("s1", status="invited")], [row], demote=True)
    by_action = {op.action: op for op in plan.operations}
    assert set(by_action) == {Action.INACTIVATE, Action.RESTORE}
    inactivate, restore = by_action[Action.INACTIVATE], by_action[Action.RESTORE]
    assert inactivate.request.method == "DELETE" and inactivate.request.params == {"task": "inactivate"}
    assert restore.request.path == "/api/v1/sections/101/enrollments"
    assert restore.request.params["enrollment[enrollment_state]"] == "invited"
    assert restore.request.params["enrollment[user_id]"] == str(row["user_id"])
    assert restore.depends_on == (inactivate.id,)
    assert plan.warnings == ()


def test_text_and_markdown_say_what_is_left_unclaimed_and_what_applying_claims() -> None:
    from reconcile.render import render

    ours, theirs, matched = have("ours"), have("theirs"), have("s1", sis_import_id=None)
    plan = plan_of(
        [want("s1")], [ours, theirs, matched], cfg=config(ownership="claimed"), claims=claims_of(ours)
    )
    for output in ("text", "markdown"):
        shown = render(plan, output)
        assert "1 enrollment not claimed by this tool left unchanged" in shown
        assert "Applying it also claims 1 enrollment the roster matched" in shown
    quiet = render(plan_of([want("s1")], [matched]), "text")
    assert "not claimed" not in quiet and "claims" not in quiet
