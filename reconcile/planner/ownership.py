"""What the tool owns, as the planner sees it (DESIGN §4 ``manage.ownership: claimed``). Pure.

The *claim set* lives in the state dir (:mod:`reconcile.apply.claims`); the pipeline reads it
and hands the planner a :class:`Claims`: the claimed enrollment ids, their digest, and for
``policy.drift`` what the tool last left in each (:mod:`reconcile.planner.drift`). The
planner never learns where the claims came from.

- A plan records the digest of the claim set it used (``plan.claims.digest``); apply refuses
  a ``claimed`` plan whose claim set changed since (exit 4), because what it may drop
  rests on it.
- A plan also lists the enrollments its roster rows matched that are not claimed yet
  (``plan.claims.new``, enrollment ids by course): apply claims them once the run is done,
  with the enrollments it creates. So "claimed" means: created by this tool, or matched
  to a roster row in an apply.
- Under ``claimed`` a row is managed when it is claimed, or when a roster row matches it
  now (a roster row always claims what it matches); an unclaimed row absent from the
  roster is left alone and counted (``summary.not_claimed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reconcile.planner.keys import CODE, among, factorize

EMPTY_IDS = np.zeros(0, dtype="int64")
LIVE = ("active", "invited", "creation_pending", "inactive")


def claims_digest(ids: Iterable[int] | np.ndarray) -> str:
    """A short digest of a set of enrollment ids (order and repeats do not matter)."""
    values = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype="int64"))
    return hashlib.sha256(values.astype("<i8").tobytes()).hexdigest()[:32]


@dataclass(frozen=True)
class Claims:
    """The claim set as planner input: sorted unique ``ids``, their ``digest``, and the state
    the tool last left each claimed enrollment in (``left``: id -> raw Canvas state), where
    the journal knows it. Build with :meth:`of`."""

    ids: np.ndarray
    digest: str
    left: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, ids: Iterable[int] | np.ndarray, *, left: Mapping[int, str] | None = None) -> Claims:
        values = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype="int64"))
        return cls(ids=values, digest=claims_digest(values), left=dict(left or {}))

    @classmethod
    def none(cls) -> Claims:
        """An empty claim set (nothing claimed yet)."""
        return cls.of(EMPTY_IDS)

    def __len__(self) -> int:
        return len(self.ids)


def claimed_mask(current: pd.DataFrame, claims: Claims) -> np.ndarray:
    """Which rows of ``current`` are claimed enrollments."""
    if len(claims.ids) == 0 or len(current) == 0:
        return np.zeros(len(current), dtype=bool)
    ids = current["id"].to_numpy(dtype="int64", na_value=-1)
    where = np.searchsorted(claims.ids, ids)
    where[where >= len(claims.ids)] = 0
    return claims.ids[where] == ids


def left_state_codes(current: pd.DataFrame, claims: Claims) -> np.ndarray:
    """Per row of ``current``: the state code (:data:`~reconcile.planner.keys.VOCAB`) the tool
    last left that enrollment in, 0 where unknown (not claimed, or no record)."""
    out = np.zeros(len(current), dtype="int8")
    if not claims.left or len(current) == 0:
        return out
    ids = current["id"].to_numpy(dtype="int64", na_value=-1)
    known = pd.Series(claims.left, dtype=object)
    states = pd.Series(ids).map(known).to_numpy(dtype=object)
    hit = pd.notna(states)
    if hit.any():
        out[hit] = [CODE.get(str(s), 0) for s in states[hit].tolist()]
    return out


def adopt_matched(
    managed: np.ndarray, role_managed: np.ndarray, matched: np.ndarray, states: np.ndarray
) -> tuple[np.ndarray, int]:
    """``ownership: claimed``: managed rows plus every row a roster row matches (it becomes
    claimed when the plan is applied), and the count of unclaimed live rows in managed roles
    that nothing matched: the ones left alone ("not claimed by this tool")."""
    adopted = managed | (role_managed & matched)
    left_alone = role_managed & ~adopted & among(states, LIVE)
    return adopted, int(left_alone.sum())


def new_claims(
    current: pd.DataFrame,
    positions: np.ndarray,
    claimed: np.ndarray | None,
    *,
    course_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[int]]:
    """``{course ref: sorted enrollment ids}`` of the rows at ``positions`` (the roster's
    matches) that are not claimed yet. ``course_codes`` is ``factorize(current["course_ref"])``
    when the caller has it."""
    picked = np.zeros(len(current), dtype=bool)
    picked[np.asarray(positions, dtype="int64")] = True
    if claimed is not None:
        picked &= ~claimed
    rows = np.flatnonzero(picked)
    if len(rows) == 0:
        return {}
    codes_of_rows, names = course_codes or factorize(current["course_ref"])
    ids = current["id"].to_numpy(dtype="int64", na_value=-1)[rows]
    codes = codes_of_rows[rows]
    keep = (ids >= 0) & (codes >= 0)
    codes, ids = codes[keep], ids[keep]
    if len(ids) == 0:
        return {}
    order = np.lexsort((ids, codes))
    codes, ids = codes[order], ids[order]
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1, [len(codes)]))
    out = {
        str(names[codes[begin]]): ids[begin:end].tolist()
        for begin, end in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
    }
    return dict(sorted(out.items()))


def claims_document(claims: Claims, new: Mapping[str, list[int]]) -> dict[str, object]:
    """What a plan records of the claim set it used (``plan.claims``)."""
    return {
        "digest": claims.digest,
        "count": len(claims),
        "new": {course: list(ids) for course, ids in sorted(new.items())},
    }
