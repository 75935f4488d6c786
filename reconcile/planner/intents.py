"""Decided rows as a table of *intents* (desired row, Canvas row, action, request state,
reason, detail, user id), before any Operation object exists. Pure, vectorised.

``d`` and ``c`` are positions in the desired and current frames, -1 where there is none
(a new enrollment has no Canvas row; a drop has no roster row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.planner import rules
from reconcile.planner.keys import among, micros, words
from reconcile.planner.warnings import WarningSink

INTENT_COLUMNS = ("d", "c", "action", "post_state", "reason", "detail", "uid")


def uids(current: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    return current["user_id"].to_numpy(dtype="int64", na_value=-1)[positions]


def decided(d: np.ndarray, c: np.ndarray, decision: rules.Decision, *, uid: np.ndarray) -> pd.DataFrame:
    acting = decision.action != ""
    return pd.DataFrame(
        {
            "d": np.asarray(d, dtype="int64")[acting],
            "c": np.asarray(c, dtype="int64")[acting],
            "action": decision.action[acting],
            "post_state": decision.post_state[acting],
            "reason": decision.reason[acting],
            "detail": decision.detail[acting],
            "uid": np.asarray(uid, dtype="int64")[acting],
        }
    )


def extra_updates(
    pair_d: np.ndarray, pair_c: np.ndarray, decision: rules.Decision, current: pd.DataFrame
) -> pd.DataFrame:
    extra = decision.update_state != ""
    return pd.DataFrame(
        {
            "d": pair_d[extra].astype("int64"),
            "c": pair_c[extra].astype("int64"),
            "action": "update",
            "post_state": decision.update_state[extra],
            "reason": "attributes_differ",
            "detail": "attributes_before_inactivate",
            "uid": uids(current, pair_c[extra]),
        }
    )


def follow_ups(
    pair_d: np.ndarray, pair_c: np.ndarray, decision: rules.Decision, current: pd.DataFrame
) -> pd.DataFrame:
    """The POST after a demoting DELETE task=inactivate (``Decision.follow_state``)."""
    extra = decision.follow_state != ""
    return pd.DataFrame(
        {
            "d": pair_d[extra].astype("int64"),
            "c": pair_c[extra].astype("int64"),
            "action": "restore",
            "post_state": decision.follow_state[extra],
            "reason": "state_differs",
            "detail": "revive_after_inactivate",
            "uid": uids(current, pair_c[extra]),
        }
    )


def enrollments(
    desired: pd.DataFrame, unmatched_d: np.ndarray, new_uid: pd.Series, *, status: np.ndarray | None = None
) -> pd.DataFrame:
    """New enrollments for unmatched desired rows; ``status`` is ``words(desired["status"])`` if the caller has it."""
    status = words(desired["status"]) if status is None else status
    wanted = unmatched_d & among(status, rules.POST_STATES)
    uid_full = np.full(len(desired), -1, dtype="int64")
    uid_full[unmatched_d] = new_uid.astype("Int64").to_numpy(dtype="int64", na_value=-1)
    return pd.DataFrame(
        {
            "d": np.flatnonzero(wanted).astype("int64"),
            "c": np.full(int(wanted.sum()), -1, dtype="int64"),
            "action": "enroll",
            "post_state": desired["status"].to_numpy(dtype=object, na_value="")[wanted],
            "reason": "missing_in_canvas",
            "detail": "",
            "uid": uid_full[wanted],
        }
    )


def last_attended(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    pair_d: np.ndarray,
    pair_c: np.ndarray,
    unmatched_d: np.ndarray,
    sink: WarningSink,
) -> pd.DataFrame:
    managed = desired["last_attended_managed"].to_numpy(dtype=bool)
    if not managed.any():  # the common case: no roster gave last_attended_at
        return pd.DataFrame({name: [] for name in INTENT_COLUMNS})
    all_status = words(desired["status"])
    wanted = micros(desired["last_attended_at"])
    nat = np.iinfo("int64").min
    live = ~among(all_status, ("deleted", "deleted_last_completed"))
    settable = managed & (wanted != nat) & live
    have = micros(current["last_attended_at"])
    differs = settable[pair_d] & (wanted[pair_d] != have[pair_c])
    hidden = current["last_attended_hidden"].fillna(False).to_numpy(dtype=bool)[pair_c] & differs
    if hidden.any():  # absent from Canvas's JSON, not null: unknown, so nothing to compare
        sink.add(
            "last_attended_unknown",
            f"Canvas does not show last_attended_at to this token (it needs read_reports in the course), so "
            f"no last-attended date is planned for {int(hidden.sum())} enrollments whose value is unknown",
        )
        differs &= ~hidden
    later = settable & unmatched_d & among(all_status, rules.POST_STATES)
    sink.rows(
        desired,
        later,
        "last_attended_deferred",
        "last_attended_at for {user} in {course} can only be set once the enrollment exists; "
        "it will be planned on the next run",
    )
    rows = pd.DataFrame(
        {
            "d": pair_d[differs].astype("int64"),
            "c": pair_c[differs].astype("int64"),
            "action": "set_last_attended",
            "post_state": "",
            "reason": "last_attended_differs",
            "detail": "",
            "uid": uids(current, pair_c[differs]),
        }
    )
    # one PUT per course and user: Canvas sets the date on all of the user's rows (facts §5.5)
    rows["course_id"] = current["course_id"].to_numpy(dtype="int64", na_value=-1)[rows["c"].to_numpy()]
    rows["when"] = wanted[rows["d"].to_numpy()]
    rows = rows.sort_values(["course_id", "uid", "when", "d"]).drop_duplicates(
        ["course_id", "uid"], keep="last"
    )
    return rows.drop(columns=["course_id", "when"]).reset_index(drop=True)


def suppress_unmanaged(
    frame: pd.DataFrame, managed: np.ndarray, desired: pd.DataFrame, current: pd.DataFrame, sink: WarningSink
) -> pd.DataFrame:
    """Changes to touchable-but-unmanaged rows (ownership or role scope) are reported, not planned."""
    c = frame["c"].to_numpy()
    managed_at = np.append(managed, True)  # position -1 (a new enrollment) reads the sentinel
    outside = ~managed_at[c]
    if outside.any():
        blocked = frame[outside]
        sink.pairs(
            desired,
            current,
            blocked["d"].to_numpy(),
            blocked["c"].to_numpy(),
            np.ones(len(blocked), dtype=bool),
            "not_managed",
        )
    return frame[~outside].reset_index(drop=True)
