"""The rules table of DESIGN §5, vectorised: (desired status, Canvas state) -> action.

Pure numpy over whole columns; no Operation objects are built here. States and statuses
arrive as int8 codes (:func:`reconcile.planner.keys.words`). Each function returns plain
arrays aligned with its inputs: ``action`` ("" = nothing to do), the
``enrollment[enrollment_state]`` a POST sends, the reason code, a detail code, and for
matched rows an optional extra ``update`` POST that goes with a DELETE-based change.

The Canvas behaviour behind each cell (facts sheet):
- POST is an upsert on (user, type, role, section, associated user); on a row that is not
  active *by date* it sets the requested state, reviving completed/deleted/rejected rows
  in place (§3.4); on a date-active row it changes attributes but never the state, so
  active -> invited is impossible and active -> inactive needs DELETE task=inactivate.
- PUT .../reactivate works only from raw ``inactive`` (§5.4).
- DELETE task=conclude|inactivate|delete works on any non-deleted row (§5.1).
"""

from __future__ import annotations

import numpy as np

from reconcile.planner.keys import CODE, among

PENDING = ("invited", "creation_pending")
GONE = ("deleted", "rejected")
LIVE = ("invited", "creation_pending", "active", "inactive")  # states a drop can act on
POST_STATES = ("active", "invited", "inactive")  # statuses a POST can request

# detail codes -> the sentence shown with the operation
DETAILS: dict[str, str] = {
    "": "",
    "revive_with_attributes": "inactive row: one POST (state active) revives it and sets the changed "
    "attributes together; PUT reactivate cannot change attributes",
    "pending_by_date": "the row is active only by workflow state (its dates make it pending or ended), "
    "so Canvas accepts a POST to change its state",
    "post_sets_state_and_attributes": "the row is not active by date, so one POST sets the state and the "
    "changed attributes together",
    "attributes_before_inactivate": "attributes are updated first; the DELETE task=inactivate that follows "
    "changes the state, which a POST cannot do on an active row",
    "keeps_other_active": "deleted_last_completed: the user keeps another enrollment in the course with this "
    "role that is not deleted, so this one is deleted",
    "last_enrollment": "deleted_last_completed: no other enrollment of the user in the course with this role "
    "stays (every other one is deleted or leaving), so this one is concluded",
    "revive": "POST with an explicit enrollment_state revives the existing row in place (same id)",
    "demote_through_inactive": "the row is active by date, where a POST never changes the state; inactivating "
    "it first lets the POST that follows set it back to invited (same id)",
    "revive_after_inactivate": "after the DELETE task=inactivate before it, the row is no longer active by date, "
    "so this POST sets the state it asks for (same id)",
}


class Decision:
    """Aligned result arrays of one rules pass (a tiny struct; not part of the plan)."""

    def __init__(self, n: int) -> None:
        self.action = np.full(n, "", dtype=object)
        self.post_state = np.full(n, "", dtype=object)
        self.reason = np.full(n, "", dtype=object)
        self.detail = np.full(n, "", dtype=object)
        self.update_state = np.full(n, "", dtype=object)  # "" = no extra attribute update
        self.follow_state = np.full(n, "", dtype=object)  # "" = no POST after the DELETE (demote)
        self.warning = np.full(n, "", dtype=object)

    def set(self, mask: np.ndarray, action: str, *, reason: str, post: str = "", detail: str = "") -> None:
        if not mask.any():
            return
        self.action[mask] = action
        self.reason[mask] = reason
        self.post_state[mask] = post
        self.detail[mask] = detail


def decide_matched(
    status: np.ndarray,
    state: np.ndarray,
    *,
    date_active: np.ndarray,
    attrs_differ: np.ndarray,
    keeps_other: np.ndarray,
    demote: bool = False,
) -> Decision:
    """Rules for desired rows that matched a Canvas enrollment (every cell of DESIGN §5 but "none").

    ``date_active``: the row is active by date now (facts §7.3, with the dates of §7.4). ``attrs_differ``:
    a managed attribute differs. ``keeps_other``: the user keeps another non-deleted enrollment
    in the course with the same role (for deleted_last_completed). ``demote``: an invited
    row that is active by date is put back to invited through inactive (DELETE
    task=inactivate, then a POST, which then sets the state: facts §3.4) instead of being
    reported as ``cannot_demote``; only undo asks for it.
    """
    out = Decision(len(status))

    def st(*states: str) -> np.ndarray:
        return among(state, states)

    diff = attrs_differ
    active = among(status, "active")
    out.set(
        active & st(*PENDING, "completed", *GONE),
        "restore",
        reason="state_differs",
        post="active",
        detail="revive",
    )
    out.set(active & st("inactive") & ~diff, "reactivate", reason="state_differs")
    out.set(
        active & st("inactive") & diff,
        "restore",
        reason="state_differs",
        post="active",
        detail="revive_with_attributes",
    )
    out.set(active & st("active") & diff, "update", reason="attributes_differ", post="active")

    invited = among(status, "invited")
    out.set(invited & st(*PENDING) & diff, "update", reason="attributes_differ", post="invited")
    demote_rows = invited & st("active") & date_active
    if demote:
        out.set(demote_rows, "inactivate", reason="state_differs", detail="demote_through_inactive")
        out.follow_state[demote_rows] = "invited"
    else:
        out.warning[demote_rows] = "cannot_demote"
        out.set(demote_rows & diff, "update", reason="attributes_differ", post="invited")
    out.set(
        invited & st("active") & ~date_active,
        "restore",
        reason="state_differs",
        post="invited",
        detail="pending_by_date",
    )
    out.set(
        invited & st("inactive", "completed", *GONE),
        "restore",
        reason="state_differs",
        post="invited",
        detail="revive",
    )

    inactive = among(status, "inactive")
    out.set(inactive & st("active") & ~(diff & ~date_active), "inactivate", reason="state_differs")
    extra = inactive & st("active") & diff & date_active
    out.update_state[extra] = "inactive"
    out.detail[extra] = "attributes_before_inactivate"
    out.set(
        inactive & st("active") & diff & ~date_active,
        "restore",
        reason="state_differs",
        post="inactive",
        detail="pending_by_date",
    )
    out.set(inactive & st(*PENDING, "completed") & ~diff, "inactivate", reason="state_differs")
    out.set(
        inactive & st(*PENDING, "completed") & diff,
        "restore",
        reason="state_differs",
        post="inactive",
        detail="post_sets_state_and_attributes",
    )
    out.set(inactive & st("inactive") & diff, "update", reason="attributes_differ", post="inactive")
    out.set(inactive & st(*GONE), "restore", reason="state_differs", post="inactive", detail="revive")

    # completed: concluding is the point; attributes of concluded rows are not chased
    out.set(among(status, "completed") & st(*LIVE), "conclude", reason="state_differs")
    out.set(among(status, "deleted") & st(*LIVE, "completed"), "delete", reason="state_differs")

    last = among(status, "deleted_last_completed")
    out.set(last & st(*LIVE) & keeps_other, "delete", reason="state_differs", detail="keeps_other_active")
    out.set(last & st(*LIVE) & ~keeps_other, "conclude", reason="state_differs", detail="last_enrollment")
    out.set(
        last & st("completed") & keeps_other, "delete", reason="state_differs", detail="keeps_other_active"
    )
    return out


def final_state_matched(status: np.ndarray, state: np.ndarray, *, date_active: np.ndarray) -> np.ndarray:
    """The workflow state code a matched row will have after the plan (deleted_last_completed: never active)."""
    final = np.where(among(status, POST_STATES), status, state).astype("int8")
    final[among(status, "completed") & among(state, LIVE)] = CODE["completed"]
    final[among(status, "deleted") & among(state, (*LIVE, "completed"))] = CODE["deleted"]
    final[among(status, "deleted_last_completed") & among(state, LIVE)] = CODE["completed"]
    final[among(status, "invited") & among(state, "active") & date_active] = CODE["active"]  # cannot demote
    return final


def decide_absent(state: np.ndarray, *, policy: str, keeps_other: np.ndarray) -> Decision:
    """``policy.drop`` for managed Canvas rows absent from the roster (last row of DESIGN §5).

    Completed rows are only dropped by ``delete``; deleted and rejected rows never.
    """
    out = Decision(len(state))
    live = among(state, LIVE)
    reason = "absent_from_roster"
    if policy == "conclude":
        out.set(live, "conclude", reason=reason)
    elif policy == "inactivate":
        out.set(live & ~among(state, "inactive"), "inactivate", reason=reason)
    elif policy == "delete":
        out.set(live | among(state, "completed"), "delete", reason=reason)
    elif policy == "deleted_last_completed":
        out.set(live & keeps_other, "delete", reason=reason, detail="keeps_other_active")
        out.set(live & ~keeps_other, "conclude", reason=reason, detail="last_enrollment")
    elif policy != "ignore":
        raise ValueError(f"unknown drop policy {policy!r}")
    return out


def final_state_absent(state: np.ndarray, *, policy: str) -> np.ndarray:
    """The state code an absent row keeps or reaches; only ``ignore`` can leave it active."""
    final = state.astype("int8")
    if policy != "ignore":
        final[among(state, LIVE)] = CODE["dropped"]
    return final
