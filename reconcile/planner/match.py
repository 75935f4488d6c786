"""Pairing desired rows with Canvas rows (DESIGN §3 identity, §5 "any section").

Pure and vectorised: one inner join per user-ref spelling on (course, user, role,
associated user), then the section rule:
- a desired row with a section matches only the row in that section (Canvas's unique
  index makes that at most one);
- a desired row without a section matches the course's rows in any section: for
  active/invited the best one (active first, then lowest id) carries the rules and the
  others are left alone; inactive/completed/deleted apply to every matching row. A row
  already claimed by a sectioned desired row is not claimed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcile.planner.keys import (
    NO_ASSOCIATE,
    USER_KINDS,
    current_user_key,
    desired_user_key,
    ref_kind,
    section_matches,
)

STATE_RANK = {"active": 0, "invited": 1, "creation_pending": 2, "inactive": 3, "completed": 4, "rejected": 5}


@dataclass(frozen=True)
class Matching:
    pairs: pd.DataFrame  # columns d, c: positions in desired / current
    satisfied: np.ndarray  # desired positions needing nothing: their rows are all claimed by others
    bystanders: np.ndarray  # current positions matched by a sectionless row but left alone


def resolve_users(refs: pd.Series, current: pd.DataFrame) -> pd.Series:
    """Numeric Canvas user id for each user ref, looked up in ``current``; <NA> when unknown."""
    result = pd.Series(pd.NA, index=refs.index, dtype="Int64")
    present = refs.notna()
    if not present.any():
        return result
    kinds = ref_kind(refs[present])
    keys = desired_user_key(refs[present].astype(object), kinds)
    for kind in sorted(set(kinds.tolist()) & set(USER_KINDS)):
        wanted = keys[kinds == kind]
        cur_keys = current_user_key(current, kind)
        hit = cur_keys.isin(set(wanted.tolist())).to_numpy(dtype=bool)
        table = pd.DataFrame({"key": cur_keys[hit].to_numpy(), "uid": current["user_id"][hit].to_numpy()})
        lookup = table.drop_duplicates("key").set_index("key")["uid"]
        result.loc[wanted.index] = wanted.map(lookup).astype("Int64").to_numpy()
    return result


def match(desired: pd.DataFrame, current: pd.DataFrame, touchable: np.ndarray) -> Matching:
    """Pair desired rows (columns course, section, user, role, status, assoc_id; assoc_id <NA> = not
    matchable yet) with touchable current rows. Positions refer to the frames as passed."""
    kinds = ref_kind(desired["user"])
    ukeys = desired_user_key(desired["user"].astype(object), kinds)
    assoc = desired["assoc_id"]
    matchable = assoc.notna().to_numpy(dtype=bool)
    cur = current[touchable]
    cur_assoc = cur["associated_user_id"].fillna(NO_ASSOCIATE).astype("int64").to_numpy()
    found = []
    for kind in sorted(set(kinds[matchable].tolist()) & set(USER_KINDS)):
        rows = matchable & (kinds == kind).to_numpy(dtype=bool)
        left = pd.DataFrame(
            {
                "d": np.flatnonzero(rows),
                "course": desired["course"].to_numpy(dtype=object)[rows],
                "user": ukeys.to_numpy(dtype=object)[rows],
                "role": desired["role"].to_numpy(dtype=object)[rows],
                "assoc": assoc.to_numpy(dtype="int64", na_value=NO_ASSOCIATE)[rows],
            }
        )
        key = current_user_key(cur, kind)
        has_key = key.notna().to_numpy(dtype=bool)
        right = pd.DataFrame(
            {
                "c": cur.index.to_numpy()[has_key],
                "course": cur["course_ref"].to_numpy(dtype=object)[has_key],
                "user": key.to_numpy(dtype=object)[has_key],
                "role": cur["role"].to_numpy(dtype=object)[has_key],
                "assoc": cur_assoc[has_key],
            }
        )
        found.append(
            left.merge(right, on=["course", "user", "role", "assoc"], how="inner", sort=False)[["d", "c"]]
        )
    if not found:
        empty = pd.DataFrame({"d": np.array([], dtype="int64"), "c": np.array([], dtype="int64")})
        none = np.array([], dtype="int64")
        return Matching(pairs=empty, satisfied=none, bystanders=none)
    pairs = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    return _apply_section_rule(pairs, desired, current)


def _apply_section_rule(pairs: pd.DataFrame, desired: pd.DataFrame, current: pd.DataFrame) -> Matching:
    d = pairs["d"].to_numpy()
    c = pairs["c"].to_numpy()
    section = desired["section"].take(d)
    has_section = section.notna().to_numpy(dtype=bool)
    same = np.zeros(len(pairs), dtype=bool)
    if has_section.any():
        same[has_section] = section_matches(section[has_section], current.take(c[has_section]))
    sectioned = pairs[has_section & same]
    loose = pairs[~has_section]
    if len(loose) == 0:
        none = np.array([], dtype="int64")
        return Matching(pairs=sectioned.reset_index(drop=True), satisfied=none, bystanders=none)
    free = loose[~loose["c"].isin(sectioned["c"]).to_numpy(dtype=bool)]
    satisfied = np.setdiff1d(loose["d"].unique(), free["d"].unique())
    status = desired["status"].to_numpy(dtype=object)[free["d"].to_numpy()]
    positive = np.isin(status, ("active", "invited"))
    best = free[positive].copy()
    bystanders = np.array([], dtype="int64")
    if len(best):
        states = current["state"].to_numpy(dtype=object)[best["c"].to_numpy()]
        best["rank"] = [STATE_RANK.get(s, 9) for s in states]
        best["id"] = current["id"].to_numpy(dtype="int64", na_value=0)[best["c"].to_numpy()]
        every = best["c"].to_numpy()
        best = best.sort_values(["d", "rank", "id"]).drop_duplicates("d")[["d", "c"]]
        bystanders = np.setdiff1d(every, best["c"].to_numpy())
    chosen = pd.concat([sectioned, best, free[~positive]], ignore_index=True)
    return Matching(pairs=chosen, satisfied=satisfied.astype("int64"), bystanders=bystanders.astype("int64"))
