"""Roster refs that no fetched enrollment shows, and what Canvas said of them (issue #11). Pure.

A roster row naming a user Canvas does not have, or a section its course does not have,
would be planned as an enroll that apply can only fail with a 404 ("run the same apply
again" can never help). :func:`to_check` lists what the fetched enrollments cannot vouch
for; the caller asks Canvas (``reconcile.canvas.lookups``) and passes the answers back as
:class:`Lookups`; :func:`unplaceable` turns them into the rows that get a warning naming
the file and row, and no operation. The current enrollments of the same user, course and
role are then left alone (the roster's word on them could not be read), never dropped as
"absent".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reconcile.planner.keys import USER_KINDS, current_section_ref, current_user_values, split_unique


@dataclass(frozen=True)
class Needs:
    """What to ask Canvas: user refs, and per course the section refs no enrollment shows."""

    users: tuple[str, ...] = ()
    sections: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.users or self.sections)


@dataclass(frozen=True)
class Lookups:
    """Canvas's answers: refs it does not know, and whether users could be checked at all."""

    unknown_users: frozenset[str] = frozenset()
    unknown_sections: frozenset[tuple[str, str]] = frozenset()  # (course ref, section ref)
    users_undecided: bool = False  # the token may not look users up: nothing was concluded
    user_ids: dict[str, int] = field(default_factory=dict)  # user ref -> Canvas id, for refs it does know


def to_check(desired: pd.DataFrame, current: pd.DataFrame, courses: Iterable[str]) -> Needs:
    """User refs (rows and observees) and section refs of ``desired`` rows in ``courses`` that
    no row of ``current`` shows."""
    rows = desired[desired["course"].isin(list(courses))]
    if rows.empty:
        return Needs()
    refs = pd.concat([rows["user"], rows["associated_user"]], ignore_index=True).dropna()
    refs = pd.Series(refs.unique(), dtype=object)
    users = tuple(sorted(str(r) for r in refs[_unseen_users(refs, current)].tolist()))
    named = rows[rows["section"].notna()][["course", "section"]].drop_duplicates()
    seen = set(zip(current["course_ref"].tolist(), current_section_ref(current).tolist(), strict=True)) | set(
        zip(
            current["course_ref"].tolist(),
            current["course_section_id"].astype("string").tolist(),
            strict=True,
        )
    )
    sections: dict[str, list[str]] = {}
    for course, section in named.itertuples(index=False):
        if (course, section) not in seen:
            sections.setdefault(str(course), []).append(str(section))
    return Needs(users=users, sections={c: tuple(sorted(s)) for c, s in sorted(sections.items())})


def _unseen_users(refs: pd.Series, current: pd.DataFrame) -> np.ndarray:
    """For each ref, True when no current row's user answers to it (any spelling Canvas lists)."""
    codes, kinds, values = split_unique(refs)
    known = np.zeros(len(kinds), dtype=bool)
    for kind in set(kinds.tolist()):
        rows = kinds == kind
        if kind not in USER_KINDS:
            known[rows] = True  # a form the fetch cannot show (uuid, hex...): leave it to Canvas at apply
            continue
        have = set(current_user_values(current, kind).tolist()) - {None}
        known[rows] = [v in have for v in values[rows].tolist()]
    return ~np.append(known, True)[codes]


def unplaceable(desired: pd.DataFrame, lookups: Lookups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unknown_user, unknown_observee, unknown_section)`` masks over ``desired``, disjoint: rows
    naming a user Canvas does not have, observer rows whose observee Canvas does not have, and
    rows naming a section their course does not have."""
    empty = np.zeros(len(desired), dtype=bool)
    if not lookups.unknown_users and not lookups.unknown_sections:
        return empty, empty.copy(), empty.copy()
    missing = list(lookups.unknown_users)
    user = desired["user"].isin(missing).to_numpy(dtype=bool)
    observee = desired["associated_user"].isin(missing).to_numpy(dtype=bool) & ~user
    section = empty.copy()
    if lookups.unknown_sections:
        pairs = pd.MultiIndex.from_arrays(
            [desired["course"].astype(object), desired["section"].astype(object)]
        )
        section = np.asarray(pairs.isin(list(lookups.unknown_sections)), dtype=bool) & ~user & ~observee
    return user, observee, section


def held_back(
    current: pd.DataFrame, desired: pd.DataFrame, rows: np.ndarray, user_ids: Sequence[object]
) -> np.ndarray:
    """Current rows of the (course, user, role) of each of ``rows`` (desired positions), given each
    row's Canvas user id in ``user_ids`` (<NA> when unknown): enrollments the roster speaks of
    through a row that could not be placed, so they are neither changed nor dropped."""
    if not rows.any():
        return np.zeros(len(current), dtype=bool)
    keys = {
        (str(c), int(u), str(r))
        for c, u, r in zip(
            desired["course"][rows].tolist(),
            list(np.asarray(user_ids, dtype=object)[rows]),
            desired["role"][rows].tolist(),
            strict=True,
        )
        if u is not None and u is not pd.NA
    }
    if not keys:
        return np.zeros(len(current), dtype=bool)
    uid = current["user_id"].to_numpy(dtype="int64", na_value=-1)
    return np.fromiter(
        (
            (c, u, r) in keys
            for c, u, r in zip(
                current["course_ref"].tolist(), uid.tolist(), current["role"].tolist(), strict=True
            )
        ),
        dtype=bool,
        count=len(current),
    )
