"""Turning decided rows into :class:`reconcile.plan.Operation` objects. Pure.

Only rows that change reach this module (a few percent of a large roster), so plain
Python per row is fine here. Every request is the exact call apply will make:
- POST upserts of an existing row go to ``/api/v1/sections/<its numeric section id>/
  enrollments`` with its numeric user id, type and role_id, because Canvas matches the
  upsert on (user, type, role, section, associated user) and would otherwise create a
  second row in the default section (facts §3.4). They carry the full attribute set:
  managed values from the roster, unmanaged ones copied from Canvas, since a re-POST
  clears whatever it omits; and always an explicit ``enrollment[enrollment_state]``.
- DELETE and reactivate use the course's numeric id and the enrollment id (facts §5).
- last_attended uses numeric course and user ids: with SIS ids in that path Canvas
  matches nothing yet answers 200 (facts §5.5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reconcile.config import Config
from reconcile.frames import BASE_TYPES
from reconcile.plan import DROP_ACTIONS, Action, Operation, Request, Target
from reconcile.planner.keys import (
    NO_ASSOCIATE,
    bool_text,
    current_section_ref,
    current_user_ref,
    escape_ref,
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
) -> tuple[Operation, ...]:
    """Operations for the decided rows in ``frame`` (columns d, c, action, post_state, reason,
    detail, uid), with moves grouped, dependencies set and content-hash ids, in plan order."""
    if frame is None or len(frame) == 0:
        return ()
    drows = _records(
        desired, frame["d"].to_numpy(), DESIRED_FIELDS, ("start_at", "end_at", "last_attended_at")
    )
    crows = _current_records(current, frame["c"].to_numpy())
    role_ids = _RoleIds(current)
    drafts: list[dict[str, Any]] = []
    notify = config.policy.notify
    columns = [frame[name].tolist() for name in ("d", "c", "action", "post_state", "reason", "detail", "uid")]
    for d_pos, c_pos, action, post_state, reason, detail, uid in zip(*columns, strict=True):
        drafts.append(
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
        )
    drafts = link_observers(drafts, sink)
    group_moves(drafts)
    return finalise(drafts)


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
    counts["total"] = len(operations)
    return counts


# --- gathering row values -----------------------------------------------------------------


def _records(
    frame: pd.DataFrame, positions: np.ndarray, fields: tuple[str, ...], dates: tuple[str, ...]
) -> dict[int, dict[str, Any]]:
    wanted = np.unique(positions[positions >= 0])
    if len(wanted) == 0:
        return {}
    names = list(dict.fromkeys((*fields, *dates)))
    sub = frame.iloc[wanted, [frame.columns.get_loc(name) for name in names]]  # no million-row copy
    data: dict[str, list[Any]] = {
        name: sub[name].to_numpy(dtype=object, na_value=None).tolist() for name in fields
    }
    for name in dates:
        data[name] = iso_series(sub[name])
    keys = list(data)
    return {
        int(p): dict(zip(keys, values, strict=True))
        for p, values in zip(wanted.tolist(), zip(*data.values(), strict=True), strict=True)
    }


def _current_records(current: pd.DataFrame, positions: np.ndarray) -> dict[int, dict[str, Any]]:
    records = _records(current, positions, CURRENT_FIELDS, ("start_at", "end_at", "last_attended_at"))
    if records:
        wanted = np.array(sorted(records))
        names = ["sis_section_id", "course_section_id", "sis_user_id", "user_id"]
        sub = current.iloc[wanted, [current.columns.get_loc(name) for name in names]]
        for pos, section, user in zip(
            wanted.tolist(), current_section_ref(sub).tolist(), current_user_ref(sub).tolist(), strict=True
        ):
            records[pos]["section_ref"] = section
            records[pos]["user_ref"] = user
    return records


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


def _draft(
    action: str,
    post_state: str,
    reason: str,
    detail: str,
    uid: int,
    d: dict[str, Any] | None,
    c: dict[str, Any] | None,
    *,
    role_ids: _RoleIds,
    notify_default: bool,
) -> dict[str, Any]:
    if c is not None:
        target = frozen(
            Target,
            course=str(d["course"] if d else c["course_ref"]),
            section=c["section_ref"],
            user=str(d["user"] if d else c["user_ref"]),
            role=str(d["role"] if d else c["role"]),
            associated_user=(d["associated_user"] if d else text_or_none(c["associated_user_id"])),
        )
    else:
        assert d is not None
        target = frozen(
            Target,
            course=d["course"],
            section=d["section"],
            user=d["user"],
            role=d["role"],
            associated_user=d["associated_user"],
        )
    request, after = _request(action, post_state, d, c, role_ids=role_ids, notify_default=notify_default)
    return {
        "action": action,
        "target": target,
        "request": request,
        "reason": reason,
        "detail": detail,
        "before": _before(c) if c is not None else None,
        "after": after,
        "origin": (f"{d['origin_file'] or '?'}:{d['origin_row'] or '?'}",)
        if d and (d["origin_file"] or d["origin_row"])
        else (),
        "uid": uid,
        "assoc_id": _assoc_id(d, c),
        "observer": bool(d and d["associated_user"]),
        "from_roster": d is not None,
        "deps": [],
        "placeholder": None,
        "move": None,
        "id": None,
    }


def _assoc_id(d: dict[str, Any] | None, c: dict[str, Any] | None) -> int | None:
    """Observee's numeric id (NO_ASSOCIATE for non-observers; None = observee not yet known)."""
    if d is not None:
        return d["assoc_id"]
    assert c is not None
    value = int_or_none(c["associated_user_id"])
    return NO_ASSOCIATE if value is None else value


def _before(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "state": c["state"],
        "section_id": c["course_section_id"],
        "section": c["section_ref"],
        "user_id": c["user_id"],
        "role_id": c["role_id"],
        "start_at": c["start_at"],
        "end_at": c["end_at"],
        "limit_privileges_to_course_section": bool(c["limit_privileges_to_course_section"] or False),
        "associated_user_id": c["associated_user_id"],
        "last_attended_at": c["last_attended_at"],
    }


def _request(
    action: str,
    post_state: str,
    d: dict[str, Any] | None,
    c: dict[str, Any] | None,
    *,
    role_ids: _RoleIds,
    notify_default: bool,
) -> tuple[Request, dict[str, Any]]:
    if action in TASKS:
        assert c is not None
        path = f"/api/v1/courses/{c['course_id']}/enrollments/{c['id']}"
        return Request("DELETE", path, {"task": TASKS[action]}), {"state": DROPPED_STATE[action]}
    if action == "reactivate":
        assert c is not None
        path = f"/api/v1/courses/{c['course_id']}/enrollments/{c['id']}/reactivate"
        return Request("PUT", path, {}), {"state": "active"}
    if action == "set_last_attended":
        assert c is not None and d is not None
        path = f"/api/v1/courses/{c['course_id']}/users/{c['user_id']}/last_attended"
        return Request("PUT", path, {"date": d["last_attended_at"]}), {
            "last_attended_at": d["last_attended_at"]
        }
    assert d is not None
    params: dict[str, Any] = {}
    if c is not None:
        path = f"/api/v1/sections/{c['course_section_id']}/enrollments"
        params["enrollment[user_id]"] = str(c["user_id"])
        params["enrollment[type]"] = str(c["type"])
        if c["role_id"] is not None:
            params["enrollment[role_id]"] = str(c["role_id"])
        if c["associated_user_id"] is not None:
            params["enrollment[associated_user_id]"] = str(c["associated_user_id"])
    else:
        if d["section"]:
            path = f"/api/v1/sections/{escape_ref(d['section'])}/enrollments"
        else:
            path = f"/api/v1/courses/{escape_ref(d['course'])}/enrollments"
        params["enrollment[user_id]"] = str(d["user"])
        role = str(d["role"])
        base = d["type"] or (role if role in BASE_TYPES else None)
        if base:
            params["enrollment[type]"] = base
        role_id = d["role_id"]
        if role_id is None and role not in BASE_TYPES:
            role_id = role_ids.get((str(d["course"]), role))
        if role_id is not None and role not in BASE_TYPES:
            params["enrollment[role_id]"] = str(role_id)
        elif role not in BASE_TYPES:
            params["enrollment[role]"] = role  # deprecated by Canvas but resolved by name (facts §3.1)
        if d["assoc_id"] is not None and d["assoc_id"] != NO_ASSOCIATE:
            params["enrollment[associated_user_id]"] = str(d["assoc_id"])
    params["enrollment[enrollment_state]"] = post_state
    dates_from = d if (d["dates_managed"] or c is None) else c
    for name in ("start_at", "end_at"):
        if dates_from[name] is not None:
            params[f"enrollment[{name}]"] = dates_from[name]
    if d["limit_managed"]:
        limit = bool(d["limit_section_privileges"] or False)
    else:
        limit = bool(c["limit_privileges_to_course_section"] or False) if c else False
    params["enrollment[limit_privileges_to_course_section]"] = bool_text(limit)
    notify = notify_default if d["notify"] is None else bool(d["notify"])
    params["enrollment[notify]"] = bool_text(notify)
    state = post_state if action != "update" or c is None else str(c["state"])
    after = {
        "state": state,
        "start_at": params.get("enrollment[start_at]"),
        "end_at": params.get("enrollment[end_at]"),
        "limit_privileges_to_course_section": limit,
        "associated_user_id": int(params["enrollment[associated_user_id]"])
        if "enrollment[associated_user_id]" in params
        else None,
    }
    method = "POST"
    return Request(method, path, params), after
