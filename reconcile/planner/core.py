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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reconcile import __version__
from reconcile.config import Config
from reconcile.frames import CURRENT_COLUMNS, DESIRED_COLUMNS, conform
from reconcile.plan import Action, Operation, Plan, PlanWarning, plan_to_dict
from reconcile.planner import intents, rules
from reconcile.planner.dates import concluded_courses, date_states, open_sections
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
    course_dates: pd.DataFrame | None = None,
    section_dates: pd.DataFrame | None = None,
    observer_links: frozenset[tuple[int, int]] = frozenset(),
    fetched_with: dict[str, Any] | None = None,
    placement: dict[str, str] | None = None,
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
    ``observer_links``: active (observer id, student id) links (facts §14.1): observer rows
    Canvas keeps from them (``current["linked"]``) are never changed and roster rows they
    provide need nothing; student operations say which linked observers Canvas will mirror
    them onto. ``fetched_with``: how ``current`` was fetched beyond the course lists (recorded
    for apply's stale check). ``placement``: course ref -> a section for new enrollments from
    rows without one (a course whose sections were cross-listed away, facts §14.2).
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
    if observer_links:
        keep &= ~_provided_by_links(desired, current, observer_links, lookups)
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
    linked = current["linked"].fillna(False).to_numpy(dtype=bool)
    if linked.any():  # Canvas's, from an observer link: never the tool's to change or count
        touchable &= ~linked
        managed &= ~linked

    desired["assoc_id"] = pd.Series(NO_ASSOCIATE, index=desired.index, dtype="Int64")
    observers = desired["associated_user"].notna().to_numpy(dtype=bool)
    if observers.any():
        desired.loc[observers, "assoc_id"] = resolve_users(
            desired.loc[observers, "associated_user"], _users_of(current, touchable)
        ).to_numpy()

    found_ids = lookups.user_ids if lookups is not None else {}
    if found_ids and observers.any():  # an observee named by a login the fetched rows do not show
        unresolved = observers & desired["assoc_id"].isna().to_numpy(dtype=bool)
        known = desired.loc[unresolved, "associated_user"].map(found_ids).astype("Int64")
        desired.loc[unresolved, "assoc_id"] = known.to_numpy()

    all_status = words(desired["status"])
    matching = match(
        _by_canvas_id(desired, found_ids),
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
    cur_state = words(c_states)
    dates = date_states(current, now_us, courses=course_dates, sections=section_dates)
    future, ended, date_active = dates.pending, dates.ended, dates.active

    status = all_status[pair_d]
    state = cur_state[pair_c]
    attrs_differ = _attrs_differ(desired, current, pair_d, pair_c, cur_start, cur_end)
    pair_date_active = date_active[pair_c]

    final_matched = rules.final_state_matched(status, state, date_active=pair_date_active)
    matched_c = np.zeros(len(current), dtype=bool)
    matched_c[pair_c] = True
    matched_c[matching.bystanders] = True
    not_claimed: int | None = None
    if scope.ownership == "claimed":  # a roster row claims what it matches; the rest is left alone
        in_roles = touchable & in_names(c_roles, scope.roles)
        managed, not_claimed = adopt_matched(managed, in_roles, matched_c, cur_state)
    absent = managed & ~matched_c
    unmatched_d = np.ones(len(desired), dtype=bool)
    unmatched_d[pair_d] = False
    unmatched_d[matching.satisfied] = False
    new_uid = resolve_users(desired.loc[unmatched_d, "user"], _users_of(current, touchable))
    if lookups is not None and lookups.user_ids and new_uid.isna().any():
        known = desired.loc[unmatched_d, "user"].map(lookups.user_ids).astype("Int64")
        new_uid = new_uid.fillna(known)
    if placement:
        desired = _placed(desired, unmatched_d, placement)
    absent_pos = np.flatnonzero(absent)
    last_pairs = among(status, "deleted_last_completed")
    last_absent = absent_pos if config.policy.drop == "deleted_last_completed" else absent_pos[:0]
    users = set(
        current["user_id"]
        .to_numpy(dtype="int64", na_value=-1)[np.concatenate((pair_c[last_pairs], last_absent))]
        .tolist()
    )
    standing = _non_deleted_counts(
        current,
        desired,
        # absent live rows are leaving (the drop policy takes them); an absent completed row stays
        touchable
        & ~(absent & among(cur_state, rules.LIVE) & (config.policy.drop != "ignore"))
        & ~among(cur_state, "deleted"),
        pair_c,
        among(status, rules.POST_STATES),
        unmatched_d,
        new_uid,
        users=users,
    )
    keeps_pairs = np.zeros(len(pair_c), dtype=bool)
    # a matched row counts itself among the standing ones; an absent row does not (it is leaving)
    keeps_pairs[last_pairs] = _keeps_other(current, pair_c[last_pairs], standing, itself=1)
    keeps_absent = np.zeros(len(absent_pos), dtype=bool)
    if len(last_absent):
        keeps_absent = _keeps_other(current, absent_pos, standing, itself=0)
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
    spans = (dates.start, dates.end)
    sink.pairs(
        desired,
        current,
        pair_d,
        pair_c,
        future_after & ~among(status, "invited"),
        "active_only_in_future",
        spans=spans,
    )
    ended_after = ended[pair_c] & among(final_matched, "active") & among(status, "active")
    ended_after &= ~desired["dates_managed"].to_numpy(dtype=bool)[pair_d]
    sink.pairs(desired, current, pair_d, pair_c, ended_after, "active_but_ended", spans=spans)

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
        operations = build_operations(
            frame, desired, current, config=config, sink=sink, mirrors=_mirrors(observer_links)
        )
        concluded = concluded_courses(course_dates, now_us)
        if concluded and operations:
            operations = _without_refused(
                operations, current, concluded, open_sections(section_dates, now_us), sink
            )
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
        summary = {**summarize(operations), "observers_kept_by_canvas": int(linked.sum())}
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
            policy=_with_fetch(policy, fetched_with),
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
            unmanaged=unmanaged_counts(current, scope, managed | linked),
            source=source,
            claims=claims_document(claims, new_claims(current, pair_c, claimed, course_codes=c_courses))
            if claims is not None
            else None,
        )
        return _with_id(plan)


POSTS = frozenset({Action.ENROLL, Action.RESTORE, Action.UPDATE})


def _without_refused(
    operations: tuple[Operation, ...],
    current: pd.DataFrame,
    concluded: dict[str, str],
    open_section_ids: set[int],
    sink: WarningSink,
) -> tuple[Operation, ...]:
    """The operations without the POSTs Canvas refuses into a concluded course (facts §3.2 step 9,
    §7.5): allowed only through a section that is still open (restricted dates, end to come)
    for a user who already has an enrollment row in the course. What depends on a refused
    operation (an observer of a new student, the drop half of a move) goes too: a move whose
    enroll cannot happen must not drop the old enrollment. One warning per course."""
    in_course: dict[str, set[str]] = {}
    section_ids: dict[tuple[str, str], int] = {}
    rows = current[current["course_ref"].isin(list(concluded))]
    for course, uid, sis, login, section, sis_section in zip(
        rows["course_ref"].tolist(),
        rows["user_id"].astype("Int64").tolist(),
        rows["sis_user_id"].tolist(),
        rows["login_id"].tolist(),
        rows["course_section_id"].astype("Int64").tolist(),
        rows["sis_section_id"].tolist(),
        strict=True,
    ):
        refs = in_course.setdefault(str(course), set())
        refs.update(
            r for r in (_present(uid), _present(sis, "sis_user_id:"), _present(login, "sis_login_id:")) if r
        )
        if section is not pd.NA and sis_section is not pd.NA and sis_section is not None:
            section_ids[(str(course), f"sis_section_id:{sis_section}")] = int(section)

    def refused(op: Operation) -> bool:
        course = op.target.course
        if op.action not in POSTS or course not in concluded:
            return False
        path = op.request.path
        if not path.startswith("/api/v1/sections/"):
            return True  # no section given
        section = path.split("/")[4]
        section_id = int(section) if section.isdigit() else section_ids.get((course, section))
        user = op.target.user.lower() if op.target.user.startswith("sis_login_id:") else op.target.user
        has_row = op.before is not None or user in in_course.get(course, set())
        return not (has_row and section_id in open_section_ids)

    gone = {op.id for op in operations if refused(op)}
    if not gone:
        return operations
    changed = True
    while changed:  # dependants and move partners of what is refused
        moves = {op.move_id for op in operations if op.id in gone and op.move_id}
        more = {
            op.id
            for op in operations
            if op.id not in gone
            and (set(op.depends_on) & gone or (op.move_id is not None and op.move_id in moves))
        }
        gone |= more
        changed = bool(more)
    by_course: dict[str, Counter[str]] = {}
    for op in operations:
        if op.id in gone:
            by_course.setdefault(op.target.course, Counter())[op.action.value] += 1
    for course, actions in sorted(by_course.items()):
        what = ", ".join(f"{n} {action}" for action, n in sorted(actions.items()))
        sink.add(
            "course_concluded",
            f"{course} is {concluded[course]}: Canvas refuses to enroll into a concluded course, so "
            f"{sum(actions.values())} operations are not planned ({what})",
            course=course,
        )
    return tuple(op for op in operations if op.id not in gone)


def _present(value: Any, prefix: str = "") -> str | None:
    if value is None or value is pd.NA:
        return None
    text = str(value)
    return f"{prefix}{text.lower() if prefix == 'sis_login_id:' else text}"


def _provided_by_links(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    links: frozenset[tuple[int, int]],
    lookups: Lookups | None,
) -> np.ndarray:
    """Roster observer rows an observer link already provides (facts §14.1): the observer is
    linked to the observee, and Canvas has (or, with the observee live in the course after the
    plan, will create) the observer row itself. Such rows are in sync; planning them would
    only fight Canvas."""
    observers = desired["associated_user"].notna().to_numpy(dtype=bool)
    if not observers.any():
        return np.zeros(len(desired), dtype=bool)
    found = lookups.user_ids if lookups is not None else {}

    def ids(refs: pd.Series) -> np.ndarray:
        uid = resolve_users(refs, current)
        if found:
            uid = uid.fillna(refs.map(found).astype("Int64"))
        return uid.to_numpy(dtype="int64", na_value=-1)

    observer_ids = ids(desired["user"].where(observers))
    student_ids = ids(desired["associated_user"])
    all_ids = ids(desired["user"])
    courses = desired["course"].to_numpy(dtype=object)
    live_students = {
        (c, u)
        for c, u, st in zip(courses.tolist(), all_ids.tolist(), desired["status"].tolist(), strict=True)
        if st in ("active", "invited") and u >= 0
    }
    is_linked = current["linked"].fillna(False).to_numpy(dtype=bool)
    kept = current[is_linked]
    linked_rows = set(
        zip(
            kept["course_ref"].tolist(),
            kept["user_id"].astype("int64").tolist(),
            kept["associated_user_id"].astype("int64").tolist(),
            strict=True,
        )
    )
    provided = np.zeros(len(desired), dtype=bool)
    for position in np.flatnonzero(observers).tolist():
        observer, student, course = int(observer_ids[position]), int(student_ids[position]), courses[position]
        if (observer, student) in links and (
            (course, observer, student) in linked_rows or (course, student) in live_students
        ):
            provided[position] = True
    return provided


def _mirrors(links: frozenset[tuple[int, int]]) -> dict[int, tuple[int, ...]]:
    """Student id -> the observers Canvas mirrors that student's enrollments onto."""
    by_student: dict[int, list[int]] = {}
    for observer, student in sorted(links):
        by_student.setdefault(student, []).append(observer)
    return {student: tuple(observers) for student, observers in by_student.items()}


def _by_canvas_id(desired: pd.DataFrame, found: dict[str, int]) -> pd.DataFrame:
    """``desired`` with each user ref Canvas resolved through the Users API (any of the user's
    logins, facts §14.3) replaced by the Canvas user id, for matching only: a roster naming a
    student by another SIS id than the one the enrollment list shows is the same person, whose
    enrollment must be matched, not dropped as absent."""
    if not found:
        return desired
    resolved = desired["user"].map(found)
    if resolved.isna().all():
        return desired
    out = desired.copy(deep=False)
    out["user"] = resolved.astype("Int64").astype("string").fillna(desired["user"])
    return out


def _placed(desired: pd.DataFrame, unmatched: np.ndarray, placement: dict[str, str]) -> pd.DataFrame:
    """New enrollments from rows without a section, in a course whose sections were cross-listed
    away, go to the section ``placement`` names (still in that course), not to wherever Canvas's
    default section is now."""
    rows = (
        unmatched
        & desired["section"].isna().to_numpy(dtype=bool)
        & desired["course"].isin(list(placement)).to_numpy(dtype=bool)
    )
    if not rows.any():
        return desired
    desired = desired.copy()
    desired.loc[rows, "section"] = desired.loc[rows, "course"].map(placement).astype("string")
    return desired


def _with_fetch(policy: dict[str, Any], fetched_with: dict[str, Any] | None) -> dict[str, Any]:
    """The policy document, with how the state was fetched when that went beyond course lists."""
    if not fetched_with:
        return policy
    scope = dict(policy["scope"])
    scope["fetch"] = fetched_with
    return {**policy, "scope": scope}


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


def amend(plan: Plan, warnings: Sequence[PlanWarning]) -> Plan:
    """``plan`` with ``warnings`` added (and its id recomputed): for what only a later read of
    Canvas can tell, such as the token's rights over the operations planned."""
    return _with_id(Plan(**{**plan.__dict__, "warnings": (*plan.warnings, *warnings)}))


def plan_id_of(plan: Plan) -> str:
    """The id ``plan``'s content gives: a hash of everything but the id and the signature,
    its operations represented by their ids (which already hash each operation's content)."""
    head = plan_to_dict(Plan(**{**plan.__dict__, "operations": (), "signature": None}), include_id=False)
    head["operations"] = [op.id for op in plan.operations]
    body = json.dumps(head, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


def _with_id(plan: Plan) -> Plan:
    return Plan(**{**plan.__dict__, "plan_id": plan_id_of(plan)})


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


def _non_deleted_counts(
    current: pd.DataFrame,
    desired: pd.DataFrame,
    standing_rows: np.ndarray,
    pair_c: np.ndarray,
    pair_posts: np.ndarray,
    unmatched_d: np.ndarray,
    new_uid: pd.Series,
    *,
    users: set[int],
) -> Counter[tuple[Any, ...]]:
    """How many enrollments each (course, user id, role, associated user id) of ``users`` has that
    are not deleted once the plan's POSTs ran and before any of its deletes (facts §12: Canvas's
    SIS import counts ``workflow_state <> 'deleted'``, completed, inactive, invited and rejected
    rows included, and batches its deletes to the end, so two rows it deletes see each other).

    ``standing_rows``: current rows not deleted now that no POST of the plan changes (the plan's
    own matched rows are added from ``pair_c`` when ``pair_posts``: a POST leaves them live)."""
    if not users:
        return Counter()
    rows = standing_rows.copy()
    rows[pair_c[pair_posts]] = True
    rows &= current["user_id"].isin(users).to_numpy(dtype=bool)
    sub = current.loc[rows, ["course_ref", "user_id", "role", "associated_user_id"]]
    counts: Counter[tuple[Any, ...]] = Counter(
        zip(
            sub["course_ref"].tolist(),
            sub["user_id"].astype("Int64").fillna(-1).astype("int64").tolist(),
            sub["role"].tolist(),
            sub["associated_user_id"].fillna(NO_ASSOCIATE).astype("int64").tolist(),
            strict=True,
        )
    )
    new = desired[unmatched_d]
    ok = new["status"].isin(list(rules.POST_STATES)).to_numpy(dtype=bool) & new_uid.isin(users).to_numpy(
        dtype=bool
    )
    counts.update(
        zip(
            new["course"][ok].tolist(),
            new_uid[ok].astype("Int64").fillna(-1).astype("int64").tolist(),
            new["role"][ok].tolist(),
            new["assoc_id"][ok].fillna(NO_ASSOCIATE).astype("int64").tolist(),
            strict=True,
        )
    )
    return counts


def _keeps_other(
    current: pd.DataFrame, positions: np.ndarray, standing: Counter[tuple[Any, ...]], *, itself: int
) -> np.ndarray:
    """For each row at ``positions``: whether another enrollment of the same user, role and
    associated user in the course stays not deleted (deleted_last_completed). ``itself``: 1 when
    the rows at ``positions`` are among those ``standing`` counts."""
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
    return np.fromiter((standing[key] - itself >= 1 for key in keys), dtype=bool, count=len(positions))
