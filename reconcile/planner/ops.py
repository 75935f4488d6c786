"""Turning decided rows into :class:`reconcile.plan.Operation` objects. Pure.

Only rows that change reach this module (a few percent of a large roster), so plain
Python per row is fine here. Each operation's ``before`` (the Canvas row, with its ids)
and ``after`` (what the row becomes, and what a POST sends: managed values from the
roster, unmanaged ones copied from Canvas, since a re-POST clears whatever it omits) are
gathered here; the request itself is derived from them by
:func:`reconcile.planner.calls.derive_request`, the same function that verifies a saved
plan on load.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.frames import BASE_TYPES
from reconcile.plan import DROP_ACTIONS, Action, Operation, Target, is_removal
from reconcile.planner.calls import derive_request
from reconcile.planner.keys import (
    NO_ASSOCIATE,
    current_section_ref,
    current_user_ref,
    int_or_none,
    iso_series,
    text_or_none,
)
from reconcile.planner.links import finalise, frozen, group_moves, link_observers
from reconcile.planner.rules import DETAILS
from reconcile.planner.warnings import WarningSink

TASKS = {"inactivate": "inactivate", "conclude": "conclude", "delete": "delete"}
DROPPED_STATE = {"inactivate": "inactive", "conclude": "completed", "delete": "deleted"}

DESIRED_FIELDS = (
    "course",
    "section",
    "user",
    "role",
    "role_id",
    "type",
    "status",
    "limit_section_privileges",
    "associated_user",
    "assoc_id",
    "notify",
    "dates_managed",
    "limit_managed",
    "origin_file",
    "origin_row",
)
CURRENT_FIELDS = (
    "id",
    "course_ref",
    "course_id",
    "course_section_id",
    "user_id",
    "type",
    "role",
    "role_id",
    "state",
    "limit_privileges_to_course_section",
    "associated_user_id",
)


def build_operations(
    frame: pd.DataFrame | None,
    desired: pd.DataFrame,
    current: pd.DataFrame,
    *,
    config: Config,
    sink: WarningSink,
    mirrors: dict[int, tuple[int, ...]] | None = None,
) -> tuple[Operation, ...]:
    """Operations for the decided rows in ``frame`` (columns d, c, action, post_state, reason,
    detail, uid), with moves grouped, dependencies set and content-hash ids, in plan order.
    ``mirrors``: student id -> linked observer ids; a student operation's ``after`` then names
    the observers Canvas will mirror it onto (``linked_observers``, facts §14.1)."""
    if frame is None or len(frame) == 0:
        return ()
    drows = _records(desired, frame["d"].to_numpy(), DESIRED_FIELDS)
    crows = _records(current, frame["c"].to_numpy(), CURRENT_FIELDS)
    role_ids = _RoleIds(current)
    notify = config.policy.notify
    columns = [frame[name].tolist() for name in ("d", "c", "action", "post_state", "reason", "detail", "uid")]
    drafts = [
        _draft(
            str(action),
            str(post_state),
            str(reason),
            DETAILS.get(detail, detail),
            int(uid),
            drows.get(d_pos),
            crows.get(c_pos),
            role_ids=role_ids,
            notify_default=notify,
        )
        for d_pos, c_pos, action, post_state, reason, detail, uid in zip(*columns, strict=True)
    ]
    _follow_inactivates(drafts, columns)
    if mirrors:
        for draft in drafts:
            observers = mirrors.get(draft["uid"]) if draft["student"] else None
            if observers:
                draft["after"] = {**(draft["after"] or {}), "linked_observers": list(observers)}
    drafts = link_observers(drafts, sink)
    group_moves(drafts)
    return finalise(drafts)


def _follow_inactivates(drafts: list[dict[str, Any]], columns: list[list[Any]]) -> None:
    """A POST that revives a row after a demoting DELETE task=inactivate depends on that DELETE."""
    c_pos, actions, details = columns[1], columns[2], columns[5]
    if "revive_after_inactivate" not in details:
        return
    inactivates = {c: i for i, (c, a) in enumerate(zip(c_pos, actions, strict=True)) if a == "inactivate"}
    for i, (c, detail) in enumerate(zip(c_pos, details, strict=True)):
        if detail == "revive_after_inactivate" and c in inactivates:
            drafts[i]["deps"].append(inactivates[c])


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while operations are built and the plan assembled,
    restoring its previous state after.

    Each operation is about ten small containers (drafts, dicts, frozen dataclasses), none in
    a cycle, so the collector finds nothing to free there; yet as they pile up it re-walks
    them in several full collections, measured at a quarter of building 50,000 operations.
    Cyclic garbage made meanwhile is collected as usual once the collector is back."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def summarize(operations: tuple[Operation, ...]) -> dict[str, int]:
    """Counts per action, plus the roll-ups the renderers print."""
    counts = {a.value: 0 for a in Action}
    for op in operations:
        counts[op.action.value] += 1
    counts["to_enroll"] = counts["enroll"]
    counts["to_change"] = sum(counts[a] for a in ("restore", "reactivate", "update", "set_last_attended"))
    counts["to_drop"] = sum(counts[a.value] for a in DROP_ACTIONS)
    counts["moves"] = len({op.move_id for op in operations if op.move_id})
    counts["drops_absent_from_roster"] = sum(
        1 for op in operations if op.action in DROP_ACTIONS and op.reason == "absent_from_roster"
    )
    counts["removals"] = sum(1 for op in operations if is_removal(op))
    counts["total"] = len(operations)
    return counts


# --- gathering row values -----------------------------------------------------------------
# A row is a plain tuple built by zip in C: the fields above, then these.

DATES = ("start_at", "end_at", "last_attended_at")
CURRENT_REFS = ("updated_at", "section_ref", "user_ref")


def _records(
    frame: pd.DataFrame, positions: np.ndarray, fields: tuple[str, ...]
) -> dict[int, tuple[Any, ...]]:
    """``{position: (*fields, *DATES)}`` for the rows at ``positions`` (-1 entries ignored):
    values as Python objects (missing ones None), dates as Canvas's ISO text. Canvas rows
    (``fields`` is CURRENT_FIELDS) also carry updated_at, and their section and user as
    refs (CURRENT_REFS)."""
    wanted = np.unique(positions[positions >= 0])
    if len(wanted) == 0:
        return {}
    refs = fields is CURRENT_FIELDS
    extra = ("updated_at", "sis_section_id", "sis_user_id") if refs else ()
    names = list(dict.fromkeys((*fields, *DATES, *extra)))
    sub = frame.iloc[wanted, [frame.columns.get_loc(name) for name in names]]  # no million-row copy
    data = [sub[name].to_numpy(dtype=object, na_value=None).tolist() for name in fields]
    data += [iso_series(sub[name]) for name in DATES]
    if refs:
        data.append(iso_series(sub["updated_at"]))
        data.append(current_section_ref(sub).tolist())
        data.append(current_user_ref(sub).tolist())
    return dict(zip(wanted.tolist(), zip(*data, strict=True), strict=True))


class _RoleIds:
    """(course ref, role name) -> role_id as Canvas reports it, for enrolling into custom roles.

    Built on first use only: most plans enroll into built-in roles and never need it."""

    def __init__(self, current: pd.DataFrame) -> None:
        self._current = current
        self._table: dict[tuple[str, str], int] | None = None

    def get(self, key: tuple[str, str]) -> int | None:
        if self._table is None:
            cols = self._current[["course_ref", "role", "role_id"]]
            pairs = cols[~cols["role"].isin(BASE_TYPES)].dropna().drop_duplicates(["course_ref", "role"])
            self._table = {(str(c), str(r)): int(i) for c, r, i in pairs.itertuples(index=False)}
        return self._table.get(key)


# --- one draft per decided row ------------------------------------------------------------
# Rows are tuples laid out as DESIRED_ROW / CURRENT_ROW; their positions are named here once
# (building a dict per row used to be the largest cost of gathering them).

DESIRED_ROW = (*DESIRED_FIELDS, *DATES)
CURRENT_ROW = (*CURRENT_FIELDS, *DATES, *CURRENT_REFS)
_D = {name: i for i, name in enumerate(DESIRED_ROW)}
_C = {name: i for i, name in enumerate(CURRENT_ROW)}
D_COURSE, D_SECTION, D_USER, D_ROLE, D_ROLE_ID, D_TYPE = (
    _D[n] for n in ("course", "section", "user", "role", "role_id", "type")
)
D_LIMIT, D_OBSERVEE, D_ASSOC_ID, D_NOTIFY = (
    _D[n] for n in ("limit_section_privileges", "associated_user", "assoc_id", "notify")
)
D_DATES_MANAGED, D_LIMIT_MANAGED, D_ORIGIN_FILE, D_ORIGIN_ROW = (
    _D[n] for n in ("dates_managed", "limit_managed", "origin_file", "origin_row")
)
D_START, D_END, D_LAST_ATTENDED = (_D[n] for n in DATES)
C_ID, C_COURSE_REF, C_COURSE_ID, C_SECTION_ID, C_USER_ID, C_TYPE, C_ROLE, C_ROLE_ID = (
    _C[n]
    for n in ("id", "course_ref", "course_id", "course_section_id", "user_id", "type", "role", "role_id")
)
C_STATE, C_LIMIT, C_ASSOC_ID = (
    _C[n] for n in ("state", "limit_privileges_to_course_section", "associated_user_id")
)
C_START, C_END, C_LAST_ATTENDED = (_C[n] for n in DATES)
C_UPDATED_AT, C_SECTION_REF, C_USER_REF = (_C[n] for n in CURRENT_REFS)


def _draft(
    action: str,
    post_state: str,
    reason: str,
    detail: str,
    uid: int,
    d: tuple[Any, ...] | None,
    c: tuple[Any, ...] | None,
    *,
    role_ids: _RoleIds,
    notify_default: bool,
) -> dict[str, Any]:
    if c is not None:
        if d is not None:
            target = frozen(
                Target,
                course=str(d[D_COURSE]),
                section=c[C_SECTION_REF],
                user=str(d[D_USER]),
                role=str(d[D_ROLE]),
                associated_user=d[D_OBSERVEE],
            )
        else:
            target = frozen(
                Target,
                course=str(c[C_COURSE_REF]),
                section=c[C_SECTION_REF],
                user=str(c[C_USER_REF]),
                role=str(c[C_ROLE]),
                associated_user=text_or_none(c[C_ASSOC_ID]),
            )
    else:
        assert d is not None
        target = frozen(
            Target,
            course=d[D_COURSE],
            section=d[D_SECTION],
            user=d[D_USER],
            role=d[D_ROLE],
            associated_user=d[D_OBSERVEE],
        )
    before = _before(c) if c is not None else None
    after = _after(action, post_state, d, c, role_ids=role_ids, notify_default=notify_default)
    request = derive_request(action, target, before, after)
    origin: tuple[str, ...] = ()
    if d is not None and (d[D_ORIGIN_FILE] or d[D_ORIGIN_ROW]):
        origin = (f"{d[D_ORIGIN_FILE] or '?'}:{d[D_ORIGIN_ROW] or '?'}",)
    return {
        "action": action,
        "target": target,
        "request": request,
        "reason": reason,
        "detail": detail,
        "before": before,
        "after": after,
        "origin": origin,
        "uid": uid,
        "assoc_id": _assoc_id(d, c),
        "observer": bool(d is not None and d[D_OBSERVEE]),
        "student": (c[C_TYPE] if c is not None else d[D_TYPE] if d is not None else None)
        == "StudentEnrollment",
        "from_roster": d is not None,
        "deps": [],
        "placeholder": None,
        "move": None,
        "id": None,
    }


def _assoc_id(d: tuple[Any, ...] | None, c: tuple[Any, ...] | None) -> int | None:
    """Observee's numeric id (NO_ASSOCIATE for non-observers; None = observee not yet known)."""
    if d is not None:
        return d[D_ASSOC_ID]
    assert c is not None
    value = int_or_none(c[C_ASSOC_ID])
    return NO_ASSOCIATE if value is None else value


def _before(c: tuple[Any, ...]) -> dict[str, Any]:
    """The Canvas row an operation acts on: the ids its request is derived from, and the
    values apply compares with a fresh fetch (updated_at included, see reconcile.apply.stale)."""
    return {
        "id": c[C_ID],
        "course_id": c[C_COURSE_ID],
        "state": c[C_STATE],
        "section_id": c[C_SECTION_ID],
        "section": c[C_SECTION_REF],
        "user_id": c[C_USER_ID],
        "role_id": c[C_ROLE_ID],
        "start_at": c[C_START],
        "end_at": c[C_END],
        "limit_privileges_to_course_section": bool(c[C_LIMIT] or False),
        "associated_user_id": c[C_ASSOC_ID],
        "last_attended_at": c[C_LAST_ATTENDED],
        "updated_at": c[C_UPDATED_AT],
    }


def _after(
    action: str,
    post_state: str,
    d: tuple[Any, ...] | None,
    c: tuple[Any, ...] | None,
    *,
    role_ids: _RoleIds,
    notify_default: bool,
) -> dict[str, Any]:
    """What the row should be after the operation, and for a POST every value it sends:
    the inputs :func:`reconcile.planner.calls.derive_request` turns into the request."""
    if action in TASKS:
        return {"state": DROPPED_STATE[action]}
    if action == "reactivate":
        return {"state": "active"}
    if action == "set_last_attended":
        assert d is not None
        return {"last_attended_at": d[D_LAST_ATTENDED]}
    assert d is not None
    course, role, role_id = d[D_COURSE], str(d[D_ROLE]), d[D_ROLE_ID]
    assoc: int | None = None
    if c is not None:
        kind: str | None = str(c[C_TYPE])
        role_id = c[C_ROLE_ID]
        if c[C_ASSOC_ID] is not None:
            assoc = int(c[C_ASSOC_ID])
    else:
        built_in = role in BASE_TYPES
        kind = d[D_TYPE] or (role if built_in else None)
        if built_in:
            role_id = None
        elif role_id is None:
            role_id = role_ids.get((str(course), role))
        assoc_id = d[D_ASSOC_ID]
        if assoc_id is not None and assoc_id != NO_ASSOCIATE:
            assoc = int(assoc_id)
    if d[D_DATES_MANAGED] or c is None:
        start, end = d[D_START], d[D_END]
    else:
        start, end = c[C_START], c[C_END]
    if d[D_LIMIT_MANAGED]:
        limit = bool(d[D_LIMIT] or False)
    elif c is not None:
        limit = bool(c[C_LIMIT] or False)
    else:
        limit = False
    return {
        "state": post_state if action != "update" or c is None else str(c[C_STATE]),
        "start_at": start,
        "end_at": end,
        "limit_privileges_to_course_section": limit,
        "associated_user_id": assoc,
        "requested_state": post_state,
        "type": kind,
        "role_id": None if role_id is None else int(role_id),
        "notify": notify_default if d[D_NOTIFY] is None else bool(d[D_NOTIFY]),
    }
