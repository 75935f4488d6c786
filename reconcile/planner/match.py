"""Pairing desired rows with Canvas rows (DESIGN §3 identity, §5 "any section").

Pure and vectorised: one inner join per user-ref spelling on (course, user, role,
associated user), then the section rule:
- a desired row with a section matches only the row in that section (Canvas's unique
  index makes that at most one);
- a desired row without a section matches the course's rows in any section: for
  active/invited the best one (active first, then lowest id) carries the rules and the
  others are left alone; inactive/completed/deleted apply to every matching row. A row
  already claimed by a sectioned desired row is not claimed twice.

Refs are split once per distinct value and joined against Canvas's own columns
(sis_user_id, user_integration_id, login_id, user_id), so no per-row strings are built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.planner.keys import (
    NO_ASSOCIATE,
    USER_KINDS,
    Factorized,
    among,
    current_user_values,
    factorize,
    section_ids,
    split_unique,
    words,
)

_JOIN_COLUMNS = (
    "course_ref",
    "role",
    "associated_user_id",
    "user_id",
    "sis_user_id",
    "user_integration_id",
    "login_id",
)
STATE_RANK = {"active": 0, "invited": 1, "creation_pending": 2, "inactive": 3, "completed": 4, "rejected": 5}


@dataclass(frozen=True)
class Matching:
    pairs: pd.DataFrame  # columns d, c: positions in desired / current
    satisfied: np.ndarray  # desired positions needing nothing: their rows are all claimed by others
    bystanders: np.ndarray  # current positions matched by a sectionless row but left alone


def resolve_users(refs: pd.Series, current: pd.DataFrame) -> pd.Series:
    """Numeric Canvas user id for each user ref, looked up in ``current``; <NA> when unknown."""
    codes, kinds, values = split_unique(refs)
    ids = np.full(len(kinds), -1, dtype="int64")
    for kind in sorted(set(kinds.tolist()) & set(USER_KINDS)):
        rows = kinds == kind
        if kind == "id":  # a numeric ref is the id itself, known to Canvas or not
            ids[rows] = values[rows].astype("int64")
            continue
        have = current_user_values(current, kind)
        hit = pd.Series(have, dtype=object).isin(set(values[rows].tolist())).to_numpy(dtype=bool)
        uid = current["user_id"].to_numpy(dtype="int64", na_value=-1)[hit]
        table = dict(zip(have[hit].tolist(), uid.tolist(), strict=True))
        ids[rows] = [table.get(v, -1) for v in values[rows].tolist()]
    out = pd.Series(np.append(ids, -1)[codes], index=refs.index, dtype="Int64")
    return out.mask(out < 0)


def match(
    desired: pd.DataFrame,
    current: pd.DataFrame,
    touchable: np.ndarray,
    *,
    status: np.ndarray | None = None,
    courses: tuple[Factorized, Factorized] | None = None,
    roles: tuple[Factorized, Factorized] | None = None,
) -> Matching:
    """Pair desired rows (columns course, section, user, role, status, assoc_id; assoc_id <NA> = not
    matchable yet) with touchable current rows. Positions refer to the frames as passed.
    When the caller already has them: ``status`` is ``words(desired["status"])``, ``courses``
    and ``roles`` the :func:`~reconcile.planner.keys.factorize` of (desired, current) course
    and role columns."""
    d_course, c_course = courses or (factorize(desired["course"]), factorize(current["course_ref"]))
    d_role, c_role = roles or (factorize(desired["role"]), factorize(current["role"]))
    # (course, role) as one integer per row, in a code space both sides share
    course_left, course_right, course_width = _shared_codes(d_course, c_course)
    role_left, role_right, role_width = _shared_codes(d_role, c_role)
    course_role_left = course_left * role_width + role_left
    course_role_right = course_right * role_width + role_right
    user_codes, unique_kinds, unique_values = split_unique(desired["user"])
    kinds = np.append(unique_kinds, "").astype(object)[user_codes]
    assoc = desired["assoc_id"]
    matchable = assoc.notna().to_numpy(dtype=bool)
    cur_pos = np.flatnonzero(touchable)
    # the columns the join reads, for touchable rows (no copy at all when every row is touchable)
    cur = current if len(cur_pos) == len(current) else current.loc[touchable, list(_JOIN_COLUMNS)]
    cur_assoc = cur["associated_user_id"].to_numpy(dtype="int64", na_value=NO_ASSOCIATE)
    found = []
    for kind in sorted(set(kinds[matchable].tolist()) & set(USER_KINDS)):
        key = current_user_values(cur, kind)
        has_key = pd.notna(key)
        right_values = key[has_key] if kind != "id" else key[has_key].astype("int64")
        right_user, known = pd.factorize(right_values)
        # each distinct desired ref is looked up once among the distinct Canvas values
        of_kind = unique_kinds == kind
        wanted = unique_values[of_kind]
        lookup = np.full(len(unique_kinds) + 1, -1, dtype="int64")
        lookup[np.flatnonzero(of_kind)] = pd.Index(known).get_indexer(
            wanted.astype("int64") if kind == "id" else wanted
        )
        left_user = lookup[user_codes]
        rows = matchable & (kinds == kind) & (left_user >= 0)  # unknown users cannot match
        d_pos = np.flatnonzero(rows)
        # one integer key per side (course, role, user) keeps the join off Python strings
        width = len(known) + 1
        left_key = course_role_left[rows] * width + left_user[rows]
        right_key = course_role_right[cur_pos[has_key]] * width + right_user
        left = pd.DataFrame(
            {"d": d_pos, "key": left_key, "assoc": assoc.to_numpy(dtype="int64", na_value=NO_ASSOCIATE)[rows]}
        )
        right = pd.DataFrame({"c": cur_pos[has_key], "key": right_key, "assoc": cur_assoc[has_key]})
        found.append(left.merge(right, on=["key", "assoc"], how="inner", sort=False)[["d", "c"]])
    if not found:
        empty = pd.DataFrame({"d": np.array([], dtype="int64"), "c": np.array([], dtype="int64")})
        none = np.array([], dtype="int64")
        return Matching(pairs=empty, satisfied=none, bystanders=none)
    pairs = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    return _apply_section_rule(
        pairs, desired, current, words(desired["status"]) if status is None else status
    )


def _shared_codes(left: Factorized, right: Factorized) -> tuple[np.ndarray, np.ndarray, int]:
    """``(left codes, right codes, width)``: both sides' rows coded so that equal values get equal
    codes, all within ``[-1, width - 2]`` (-1 = missing on either side). Each side was factorized
    on its own; only their distinct values are matched up here, not a million rows again."""
    left_codes, left_names = left
    right_codes, right_names = right
    remap = pd.Index(left_names).get_indexer(right_names)
    remap[remap < 0] = len(left_names)  # a value only Canvas has matches no roster row
    return left_codes, np.append(remap, -1)[right_codes], len(left_names) + 2


def _apply_section_rule(
    pairs: pd.DataFrame, desired: pd.DataFrame, current: pd.DataFrame, all_status: np.ndarray
) -> Matching:
    d = pairs["d"].to_numpy()
    c = pairs["c"].to_numpy()
    wanted = section_ids(desired["section"], current)[d]
    has_section = wanted != -1
    same = wanted == current["course_section_id"].to_numpy(dtype="int64", na_value=-3)[c]
    sectioned = pairs[has_section & same]
    loose = pairs[~has_section]
    none = np.array([], dtype="int64")
    if len(loose) == 0:
        return Matching(pairs=sectioned.reset_index(drop=True), satisfied=none, bystanders=none)
    free = loose[~loose["c"].isin(sectioned["c"]).to_numpy(dtype=bool)]
    satisfied = np.setdiff1d(loose["d"].unique(), free["d"].unique())
    status = all_status[free["d"].to_numpy()]
    positive = among(status, ("active", "invited"))
    best = free[positive].copy()
    bystanders = none
    if len(best):
        states = current["state"].to_numpy(dtype=object)[best["c"].to_numpy()]
        best["rank"] = [STATE_RANK.get(s, 9) for s in states]
        best["id"] = current["id"].to_numpy(dtype="int64", na_value=0)[best["c"].to_numpy()]
        every = best["c"].to_numpy()
        best = best.sort_values(["d", "rank", "id"]).drop_duplicates("d")[["d", "c"]]
        bystanders = np.setdiff1d(every, best["c"].to_numpy())
    chosen = pd.concat([sectioned, best, free[~positive]], ignore_index=True)
    return Matching(pairs=chosen, satisfied=satisfied.astype("int64"), bystanders=bystanders.astype("int64"))
