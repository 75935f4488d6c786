"""``policy.drift``: what a plan does about hand changes to claimed enrollments. Pure.

A *hand change* is a claimed enrollment whose Canvas state now differs from the state the
tool last left it in (the journal's record of the tool's own writes and observations,
handed in through :class:`reconcile.planner.ownership.Claims`). Canvas itself has no
"stickiness": a student a teacher concluded by hand is restored by the next feed. The
policy decides:

- ``revert`` (default): the roster wins; the plan puts the state back as usual.
- ``keep``: the hand change sticks until the roster's status for that enrollment changes.
  "Unchanged" means the roster still asks for what the tool last left there (the row
  still says ``active`` and the tool left it active; or the row is still absent and the
  tool's own drop left it concluded). Such an operation is not planned; the plan lists
  it as ``drift_kept`` ("kept: changed in Canvas on DATE").
- ``warn``: plan as ``revert``, and each operation that reverts a hand change is a plan
  warning (``drift_reverted``).

Only operations that change the state are affected (restore, reactivate, inactivate,
conclude, delete, and the attribute update that goes with a kept state change);
attribute-only updates and last-attended dates are planned as usual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.planner.keys import CODE, VOCAB, among, iso, words
from reconcile.planner.warnings import WarningSink

STATE_ACTIONS = ("restore", "reactivate", "inactivate", "conclude", "delete")
POLICIES = ("revert", "keep", "warn")
# policy.drop -> the roster "status" of a row it no longer lists
DROP_STATUS = {
    "deleted_last_completed": "deleted_last_completed",
    "conclude": "completed",
    "inactivate": "inactive",
    "delete": "deleted",
}


def satisfied(status: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Whether a roster status (codes) is already met by a Canvas state (codes): the roster
    would ask for no state change. ``invited`` is met by invited or creation_pending;
    ``deleted_last_completed`` by completed or deleted."""

    def pair(wanted: str, *states: str) -> np.ndarray:
        return among(status, wanted) & among(state, states)

    return (
        pair("active", "active")
        | pair("invited", "invited", "creation_pending")
        | pair("inactive", "inactive")
        | pair("completed", "completed")
        | pair("deleted", "deleted")
        | pair("deleted_last_completed", "completed", "deleted")
    )


def hand_changed(current: pd.DataFrame, left: np.ndarray, *, states: np.ndarray | None = None) -> np.ndarray:
    """Rows whose state differs from the state the tool last left them in (``left``: codes
    aligned with ``current``, 0 where unknown)."""
    now = words(current["state"]) if states is None else states
    return (left != 0) & (now != left)


def apply_drift_policy(
    frame: pd.DataFrame,
    *,
    policy: str,
    drop_policy: str,
    desired: pd.DataFrame,
    current: pd.DataFrame,
    left: np.ndarray,
    sink: WarningSink,
    states: np.ndarray | None = None,
) -> pd.DataFrame:
    """``frame`` (intents: d, c, action, ...) with ``policy.drift`` applied: ``keep`` removes
    the intents of kept hand changes, ``warn`` keeps them and warns; both report each one in
    ``sink``. ``left`` is :func:`~reconcile.planner.ownership.left_state_codes` of ``current``."""
    if policy not in POLICIES:
        raise ValueError(f"unknown drift policy {policy!r}")
    if policy == "revert" or frame is None or len(frame) == 0 or not left.any():
        return frame
    now = words(current["state"]) if states is None else states
    changed = hand_changed(current, left, states=now)
    c = frame["c"].to_numpy(dtype="int64")
    d = frame["d"].to_numpy(dtype="int64")
    safe_c = np.where(c >= 0, c, 0)
    acting = (c >= 0) & np.isin(frame["action"].to_numpy(dtype=object), STATE_ACTIONS) & changed[safe_c]
    if not acting.any():
        return frame
    status = words(desired["status"])
    wanted = np.where(d >= 0, status[np.where(d >= 0, d, 0)], CODE[DROP_STATUS.get(drop_policy, "deleted")])
    reverts = acting & satisfied(wanted.astype("int8"), left[safe_c])
    if not reverts.any():
        return frame
    code = "drift_kept" if policy == "keep" else "drift_reverted"
    for pos in np.unique(c[reverts]).tolist():
        course, user, origin = _where(current, desired, pos, frame)
        sink.add(code, _message(policy, current, pos, now, left), course=course, user=user, origin=origin)
    if policy == "warn":
        return frame
    kept_rows = np.isin(c, np.unique(c[reverts])) & (
        frame["action"].to_numpy(dtype=object) != "set_last_attended"
    )
    return frame[~kept_rows].reset_index(drop=True)


def _message(policy: str, current: pd.DataFrame, pos: int, now: np.ndarray, left: np.ndarray) -> str:
    row = current.iloc[pos]
    user = _user(row)
    when = iso(row["updated_at"]) or "an unknown date"
    was, state = VOCAB[int(left[pos])], VOCAB[int(now[pos])]
    what = f"{user} ({row['role']}) in {row['course_ref']}, enrollment {int(row['id'])}"
    if policy == "keep":
        return (
            f"kept: changed in Canvas on {when} ({was} -> {state}): {what}; policy.drift keep leaves "
            "the hand change until the roster's status for it changes"
        )
    return f"reverting a hand change made in Canvas on {when} ({was} -> {state}): {what} (policy.drift: warn)"


def _where(
    current: pd.DataFrame, desired: pd.DataFrame, pos: int, frame: pd.DataFrame
) -> tuple[str, str, tuple[str, ...]]:
    row = current.iloc[pos]
    origin: tuple[str, ...] = ()
    rows = frame[(frame["c"] == pos) & (frame["d"] >= 0)]
    if len(rows):
        drow = desired.iloc[int(rows["d"].iloc[0])]
        if pd.notna(drow["origin_file"]) or pd.notna(drow["origin_row"]):
            origin = (f"{_text(drow['origin_file']) or '?'}:{_text(drow['origin_row']) or '?'}",)
    return str(row["course_ref"]), _user(row), origin


def _user(row: pd.Series) -> str:
    sis = row["sis_user_id"]
    return f"sis_user_id:{sis}" if pd.notna(sis) else str(row["user_id"])


def _text(value: object) -> str | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        else str(value)
    )
