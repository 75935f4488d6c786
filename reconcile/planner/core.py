"""``build_plan``: desired × current × config -> :class:`reconcile.plan.Plan`. Pure.

The steps, each vectorised over whole columns: decide the scope; resolve observees;
pair desired rows with Canvas rows; run the rules table on the pairs, the drop policy
on managed rows absent from the roster, and "enroll" on desired rows with no pair;
then build Operation objects for the rows that change only (so a million unchanged
rows cost a join and a few array operations, not a million Python objects).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reconcile import __version__
from reconcile.config import Config
from reconcile.frames import CURRENT_COLUMNS, DESIRED_COLUMNS, conform
from reconcile.plan import Plan, PlanWarning, plan_to_dict
from reconcile.planner import intents, rules
from reconcile.planner.drift import apply_drift_policy
from reconcile.planner.fingerprint import fingerprint
from reconcile.planner.guards import evaluate_guards
from reconcile.planner.keys import NO_ASSOCIATE, among, as_utc, factorize, in_names, micros, words
from reconcile.planner.lookups import Lookups, held_back, unplaceable
from reconcile.planner.match import match, resolve_users
from reconcile.planner.ops import build_operations, no_cycle_collection, summarize
from reconcile.planner.ownership import (
    Claims,
    adopt_matched,
    claimed_mask,
    claims_document,
    left_state_codes,
    new_claims,
)
from reconcile.planner.scope import classify, decide_scope, policy_document, unmanaged_counts
from reconcile.planner.warnings import WarningSink


def build_plan(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    config: Config,
    *,
    now: dt.datetime | str,
    inputs: Sequence[dict[str, Any]] = (),
    canvas_url: str | None = None,
    source: str = "live",
    tool_version: str = __version__,
    only_courses: Iterable[str] | None = None,
    extra_warnings: Sequence[PlanWarning] = (),
    lookups: Lookups | None = None,
    claims: Claims | None = None,
    demote: bool = False,
    extra_policy: Mapping[str, Any] | None = None,
) -> Plan:
    """Plan the operations that make Canvas (``current``, frames.CURRENT_COLUMNS, fetched with
    every state for the courses in scope) match the roster (``desired``, frames.DESIRED_COLUMNS).

    Deterministic: the same arguments give a plan that serialises to the same bytes
    (``created_at`` is ``now``). ``only_courses`` restricts the plan to those course refs.
    ``extra_warnings`` (e.g. the roster loader's) are carried into the plan. ``lookups``:
    what Canvas said of refs no fetched enrollment shows (:mod:`reconcile.planner.lookups`);
    rows naming a user or section Canvas does not have become warnings, not operations.
    ``claims``: the claim set (:mod:`reconcile.planner.ownership`); it decides what
    ``manage.ownership: claimed`` may drop and what ``policy.drift`` treats as a hand change,
    and the plan records its digest and the matched enrollments not yet claimed (``claims``
    None: no claim set known, nothing recorded, nothing claimed). ``demote``: put invited
    rows that are active by date back to invited through inactive (undo only).
    ``extra_policy`` is merged into the plan's ``policy`` (undo records its run there).
    Never does I/O; never raises for data problems it can describe (those become warnings).
    """
    now_ts = as_utc(now)
    desired = _conformed(desired, DESIRED_COLUMNS)
    current = _conformed(current, CURRENT_COLUMNS)
    desired = _roles_by_id(desired, current)
    sink = WarningSink()
    for item in extra_warnings:
        sink.add(item.code, item.message, course=item.course, user=item.user, origin=item.origin)
    # each side's course column is hashed once: scope, filters, guards and fingerprints share the codes
    d_courses = factorize(desired["course"])
    c_courses = factorize(current["course_ref"])
    scope = decide_scope(
        desired, config, only_courses=only_courses, present=[str(c) for c in d_courses[1].tolist()]
    )
    keep = in_names(d_courses, scope.courses)
    if not scope.roles_from_roster:
        unmanaged_role = ~desired["role"].isin(scope.roles).to_numpy(dtype=bool)
        sink.rows(
            desired,
            unmanaged_role & keep,
            "role_not_managed",
            "role {role} is not in manage.roles; row ignored",
        )
        keep &= ~unmanaged_role
    held_keys = None
    if lookups is not None:
        keep, held_keys = _unplaceable(desired, current, keep, lookups, sink)
    if not keep.all():
        desired = desired[keep].reset_index(drop=True)
        d_courses = (d_courses[0][keep], d_courses[1])
    in_scope = in_names(c_courses, scope.courses)
    if not in_scope.all():
        current = current[in_scope].reset_index(drop=True)
        c_courses = (c_courses[0][in_scope], c_courses[1])
    c_roles, c_states = factorize(current["role"]), factorize(current["state"])  # shared below
    claimed = claimed_mask(current, claims) if claims is not None else None
    touchable, managed = classify(current, scope, roles=c_roles, claimed=claimed)
    if held_keys is not None:
        held = held_back(current, *held_keys)
        touchable &= ~held
        managed &= ~held

    desired["assoc_id"] = pd.Series(NO_ASSOCIATE, index=desired.index, dtype="Int64")
    observers = desired["associated_user"].notna().to_numpy(dtype=bool)
    if observers.any():
        desired.loc[observers, "assoc_id"] = resolve_users(
            desired.loc[observers, "associated_user"], _users_of(current, touchable)
        ).to_numpy()

    all_status = words(desired["status"])
    matching = match(
        desired,
        current,
        touchable,
        status=all_status,
        courses=(d_courses, c_courses),
        roles=(factorize(desired["role"]), c_roles),
    )
    pair_d = matching.pairs["d"].to_numpy()
    pair_c = matching.pairs["c"].to_numpy()

    cur_start, cur_end = micros(current["start_at"]), micros(current["end_at"])
    now_us = int(now_ts.value // 1000)
    nat = np.iinfo("int64").min
    dated = (cur_start != nat) & (cur_end != nat)
    future = dated & (now_us < cur_start)
    ended = dated & (now_us > cur_end)
    cur_state = words(c_states)
    date_active = among(cur_state, "active") & ~future & ~ended

    status = all_status[pair_d]
    state = cur_state[pair_c]
    attrs_differ = _attrs_differ(desired, current, pair_d, pair_c, cur_start, cur_end)
    pair_date_active = date_active[pair_c]

    # who will hold an active enrollment afterwards, for deleted_last_completed
    final_matched = rules.final_state_matched(status, state, date_active=pair_date_active)
    matched_c = np.zeros(len(current), dtype=bool)
    matched_c[pair_c] = True
    matched_c[matching.bystanders] = True
    not_claimed: int | None = None
    if scope.ownership == "claimed":  # a roster row claims what it matches; the rest is left alone
        in_roles = touchable & in_names(c_roles, scope.roles)
        managed, not_claimed = adopt_matched(managed, in_roles, matched_c, cur_state)
    absent = managed & ~matched_c
    final_absent = rules.final_state_absent(cur_state[absent], policy=config.policy.drop)
    unmatched_d = np.ones(len(desired), dtype=bool)
    unmatched_d[pair_d] = False
    unmatched_d[matching.satisfied] = False
    new_uid = resolve_users(desired.loc[unmatched_d, "user"], _users_of(current, touchable))
    absent_pos = np.flatnonzero(absent)
    last_pairs = among(status, "deleted_last_completed")
    last_absent = absent_pos if config.policy.drop == "deleted_last_completed" else absent_pos[:0]
    users = set(
        current["user_id"]
        .to_numpy(dtype="int64", na_value=-1)[np.concatenate((pair_c[last_pairs], last_absent))]
        .tolist()
    )
    active_after = _active_after_keys(
        current,
        desired,
        touchable & ~matched_c & ~absent,
        pair_c,
        final_matched,
        absent,
        final_absent,
        unmatched_d,
        new_uid,
        users=users,
        states=cur_state,
    )
    keeps_pairs = np.zeros(len(pair_c), dtype=bool)
    keeps_pairs[last_pairs] = _keeps_other(current, pair_c[last_pairs], active_after)
    keeps_absent = np.zeros(len(absent_pos), dtype=bool)
    if len(last_absent):
        keeps_absent = _keeps_other(current, absent_pos, active_after)
    matched_decision = rules.decide_matched(
        status,
        state,
        date_active=pair_date_active,
        attrs_differ=attrs_differ,
        keeps_other=keeps_pairs,
        demote=demote,
    )
    absent_decision = rules.decide_absent(
        cur_state[absent_pos], policy=config.policy.drop, keeps_other=keeps_absent
    )

    sink.pairs(desired, current, pair_d, pair_c, matched_decision.warning == "cannot_demote", "cannot_demote")
    future_after = future[pair_c] & among(final_matched, ("active", "invited")) & among(state, "active")
    sink.pairs(
        desired, current, pair_d, pair_c, future_after & ~among(status, "invited"), "active_only_in_future"
    )
    ended_after = ended[pair_c] & among(final_matched, "active") & among(status, "active")
    ended_after &= ~desired["dates_managed"].to_numpy(dtype=bool)[pair_d]
    sink.pairs(desired, current, pair_d, pair_c, ended_after, "active_but_ended")

    parts = [
        intents.decided(
            pair_d,
            pair_c,
            matched_decision,
            uid=current["user_id"].to_numpy(dtype="int64", na_value=-1)[pair_c],
        ),
        intents.extra_updates(pair_d, pair_c, matched_decision, current),
        intents.follow_ups(pair_d, pair_c, matched_decision, current),
        intents.decided(
            np.full(len(absent_pos), -1), absent_pos, absent_decision, uid=intents.uids(current, absent_pos)
        ),
        intents.enrollments(desired, unmatched_d, new_uid, status=all_status),
        intents.last_attended(desired, current, pair_d, pair_c, unmatched_d, sink),
    ]
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if frame is not None:
        frame = intents.suppress_unmanaged(frame, managed, desired, current, sink)
        if claims is not None and config.policy.drift != "revert":
            frame = apply_drift_policy(
                frame,
                policy=config.policy.drift,
                drop_policy=config.policy.drop,
                desired=desired,
                current=current,
                left=left_state_codes(current, claims),
                sink=sink,
                states=cur_state,
            )

    with no_cycle_collection():  # the Python-object phase: see its docstring
        operations = build_operations(frame, desired, current, config=config, sink=sink)
        guards = evaluate_guards(
            desired,
            current,
            managed,
            operations,
            scope=scope,
            config=config,
            states=cur_state,
            course_codes=c_courses,
            roster_course_codes=d_courses,
        )
        summary = summarize(operations)
        if not_claimed is not None:
            summary["not_claimed"] = not_claimed
        policy = policy_document(config, scope)
        if extra_policy:
            policy.update(extra_policy)
        plan = Plan(
            plan_id="0" * 16,
            created_at=now_ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            tool_version=tool_version,
            canvas_url=canvas_url,
            inputs=tuple(dict(i) for i in inputs),
            policy=policy,
            fingerprints=fingerprint(
                current,
                courses=scope.courses,
                course_codes=c_courses,
                text_codes={"state": c_states, "role": c_roles},
            ),
            operations=operations,
            summary=summary,
            guards=guards,
            warnings=sink.collected(),
            unmanaged=unmanaged_counts(current, scope, managed),
            source=source,
            claims=claims_document(claims, new_claims(current, pair_c, claimed, course_codes=c_courses))
            if claims is not None
            else None,
        )
        return _with_id(plan)


def _unplaceable(
    desired: pd.DataFrame, current: pd.DataFrame, keep: np.ndarray, lookups: Lookups, sink: WarningSink
) -> tuple[np.ndarray, tuple[pd.DataFrame, np.ndarray, Any] | None]:
    """``keep`` without the rows naming a user or section Canvas does not have (each one a
    warning with its file and row), and what :func:`held_back` needs to leave the current
    enrollments of those rows' users alone."""
    if lookups.users_undecided:
        sink.add(
            "users_not_checked",
            "this token may not look users up (GET /api/v1/users/:id answers 404 for anyone but itself), "
            "so roster users with no enrollment in the fetched courses could not be checked; "
            "an unknown one fails at apply",
        )
    bad_user, bad_observee, bad_section = unplaceable(desired, lookups)
    bad_user, bad_observee, bad_section = bad_user & keep, bad_observee & keep, bad_section & keep
    sink.rows(desired, bad_user, "unknown_user", "Canvas has no user {user}; row skipped: correct the roster")
    sink.rows(
        desired,
        bad_observee,
        "unknown_user",
        "Canvas has no user {associated_user}, whom observer {user} is to observe; row skipped: "
        "correct the roster",
    )
    bad_user = bad_user | bad_observee
    sink.rows(
        desired,
        bad_section,
        "unknown_section",
        "{section} is not a section of {course} in Canvas; row for {user} skipped (their current "
        "enrollments in the course are left as they are): correct the roster",
    )
    if not bad_section.any():
        return keep & ~bad_user, None
    uid = resolve_users(desired["user"].where(bad_section), current).to_numpy(dtype=object, na_value=None)
    return keep & ~bad_user & ~bad_section, (desired, bad_section, uid)


def _conformed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``frame`` with exactly ``columns``; reused as-is (no million-row copy) when it already is."""
    exact = list(frame.columns) == list(columns) and all(
        str(frame[name].dtype) == dtype for name, dtype in columns.items()
    )
    frame = frame if exact else conform(frame, columns)
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        frame = frame.reset_index(drop=True)
    return frame.copy(deep=False)


def _roles_by_id(desired: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Where the roster gave a role_id, use the name Canvas reports for it, so a custom role
    renamed in Canvas still matches (rows are joined on role names)."""
    given = desired["role_id"].notna().to_numpy(dtype=bool)
    if not given.any() or len(current) == 0:
        return desired
    known = current[["role_id", "role"]].dropna().drop_duplicates("role_id")
    names = dict(zip(known["role_id"].tolist(), known["role"].tolist(), strict=True))
    mapped = desired.loc[given, "role_id"].map(names)
    if mapped.isna().all():
        return desired
    desired = desired.copy()
    desired.loc[given, "role"] = mapped.fillna(desired.loc[given, "role"]).astype("string").to_numpy()
    return desired


def _users_of(current: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Just the user columns of some rows: what resolving refs needs, without copying the rest."""
    if rows.all():
        return current
    return current.loc[rows, ["user_id", "sis_user_id", "user_integration_id", "login_id"]]


def _with_id(plan: Plan) -> Plan:
    # operation ids already hash each operation's content, so hash those instead of the operations
    head = plan_to_dict(Plan(**{**plan.__dict__, "operations": ()}), include_id=False)
    head["operations"] = [op.id for op in plan.operations]
    body = json.dumps(head, sort_keys=True, ensure_ascii=False)
    plan_id = hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]
    return Plan(**{**plan.__dict__, "plan_id": plan_id})


def _attrs_differ(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    pair_d: np.ndarray,
    pair_c: np.ndarray,
    cur_start: np.ndarray,
    cur_end: np.ndarray,
) -> np.ndarray:
    dates = desired["dates_managed"].to_numpy(dtype=bool)[pair_d]
    want_start = micros(desired["start_at"])[pair_d]
    want_end = micros(desired["end_at"])[pair_d]
    date_diff = dates & ((want_start != cur_start[pair_c]) | (want_end != cur_end[pair_c]))
    limits = desired["limit_managed"].to_numpy(dtype=bool)[pair_d]
    want = desired["limit_section_privileges"].fillna(False).to_numpy(dtype=bool)[pair_d]
    have = current["limit_privileges_to_course_section"].fillna(False).to_numpy(dtype=bool)[pair_c]
    return date_diff | (limits & (want != have))


def _active_after_keys(
    current: pd.DataFrame,
    desired: pd.DataFrame,
    untouched: np.ndarray,
    pair_c: np.ndarray,
    final_matched: np.ndarray,
    absent: np.ndarray,
    final_absent: np.ndarray,
    unmatched_d: np.ndarray,
    new_uid: pd.Series,
    *,
    users: set[int],
    states: np.ndarray,
) -> set[tuple[Any, ...]]:
    """(course, user id, role, associated user id) of every enrollment of ``users`` active after the plan."""
    if not users:
        return set()
    state = states  # codes of current's states, computed once by the caller
    active_rows = np.zeros(len(current), dtype=bool)
    active_rows[untouched & among(state, "active")] = True
    active_rows[pair_c[among(final_matched, "active")]] = True
    absent_pos = np.flatnonzero(absent)
    active_rows[absent_pos[among(final_absent, "active")]] = True
    active_rows &= current["user_id"].isin(users).to_numpy(dtype=bool)
    sub = current.loc[active_rows, ["course_ref", "user_id", "role", "associated_user_id"]]
    keys = set(
        zip(
            sub["course_ref"].tolist(),
            sub["user_id"].astype("Int64").fillna(-1).astype("int64").tolist(),
            sub["role"].tolist(),
            sub["associated_user_id"].fillna(NO_ASSOCIATE).astype("int64").tolist(),
            strict=True,
        )
    )
    new = desired[unmatched_d]
    ok = (new["status"] == "active").to_numpy(dtype=bool) & new_uid.isin(users).to_numpy(dtype=bool)
    keys.update(
        zip(
            new["course"][ok].tolist(),
            new_uid[ok].astype("Int64").fillna(-1).astype("int64").tolist(),
            new["role"][ok].tolist(),
            new["assoc_id"][ok].fillna(NO_ASSOCIATE).astype("int64").tolist(),
            strict=True,
        )
    )
    return keys


def _keeps_other(
    current: pd.DataFrame, positions: np.ndarray, active_after: set[tuple[Any, ...]]
) -> np.ndarray:
    if len(positions) == 0:
        return np.zeros(0, dtype=bool)
    names = ["course_ref", "user_id", "role", "associated_user_id"]
    sub = current.iloc[positions, [current.columns.get_loc(name) for name in names]]
    keys = zip(
        sub["course_ref"].tolist(),
        sub["user_id"].astype("Int64").fillna(-1).astype("int64").tolist(),
        sub["role"].tolist(),
        sub["associated_user_id"].fillna(NO_ASSOCIATE).astype("int64").tolist(),
        strict=True,
    )
    return np.fromiter((key in active_after for key in keys), dtype=bool, count=len(positions))
