"""The claim set: which enrollments this tool owns, per Canvas (DESIGN §4 ``ownership: claimed``).

One CSV file per Canvas base URL and account in the state dir, ``claims-<key>.csv`` (the
key is the apply lock's: a hash of both). It is meant to be backed up and restored, or
moved with the state dir: nothing in it is a path. Its first line says which Canvas it
belongs to::

    # canvas-reconcile claim set {"format_version": 1, "canvas_url": "https://...", "account": "self"}
    enrollment_id,course_id,course,section_id,section,user_id,user,role,claimed_at,run_id,plan_id,how
    1004,101,sis_course_id:MATH101-F26,201,sis_section_id:MATH101-F26-01,10,sis_user_id:S0001,...

``how`` is ``created`` (the tool's POST made it), ``matched`` (a roster row of an applied plan
matched it) or ``claimed`` (``reconcile claim`` took it over). A record is never rewritten:
an enrollment keeps the run and time that first claimed it, which is what lets apply tell
its own plan's claims from a changed claim set. Values are written as they are (refs must
round-trip exactly), so open the file with a CSV reader rather than a spreadsheet.

A file that is not a claim set, belongs to another Canvas, or has a bad value raises
:class:`ClaimsError` naming the file, line and column. Written atomically, under the apply
lock by its callers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reconcile.apply.lock import lock_key

FORMAT_VERSION = 1
HEADER = "# canvas-reconcile claim set "
COLUMNS = (
    "enrollment_id",
    "course_id",
    "course",
    "section_id",
    "section",
    "user_id",
    "user",
    "role",
    "claimed_at",
    "run_id",
    "plan_id",
    "how",
)
HOW = ("created", "matched", "claimed")
_ID = re.compile(r"\A[1-9]\d{0,18}\Z")
_OPTIONAL_ID = re.compile(r"\A(|[1-9]\d{0,18})\Z")


class ClaimsError(Exception):
    """The claim set file cannot be used; the message names the file, line and column."""


@dataclass(frozen=True)
class Claim:
    """One claimed enrollment, as written in the file."""

    enrollment_id: int
    course: str  # course ref the tool knows it by
    role: str
    user: str  # user ref
    section: str | None  # section ref
    course_id: int | None = None
    section_id: int | None = None
    user_id: int | None = None
    claimed_at: str = ""
    run_id: str = ""
    plan_id: str = ""
    how: str = "matched"


def claims_path(state_dir: str | Path, *, canvas_url: str | None, account: str) -> Path:
    """Where the claim set of that Canvas and account lives in ``state_dir``."""
    return Path(state_dir) / f"claims-{lock_key(canvas_url, account)}.csv"


def _same_url(a: str | None, b: str | None) -> bool:
    return (a or "").rstrip("/").lower() == (b or "").rstrip("/").lower()


class ClaimSet:
    """The claim set of one Canvas and account. :meth:`load` it, :meth:`add`, :meth:`save`."""

    def __init__(self, path: Path, *, canvas_url: str | None, account: str, frame: pd.DataFrame) -> None:
        self.path = path
        self.canvas_url = canvas_url
        self.account = account
        self.frame = frame  # COLUMNS as strings, one row per enrollment id, in claim order

    @classmethod
    def load(cls, state_dir: str | Path, *, canvas_url: str | None, account: str) -> ClaimSet:
        """The claim set in ``state_dir`` (empty when there is no file yet)."""
        path = claims_path(state_dir, canvas_url=canvas_url, account=account)
        if not path.exists():
            return cls(path, canvas_url=canvas_url, account=account, frame=_empty())
        return cls(path, canvas_url=canvas_url, account=account, frame=_read(path, canvas_url, account))

    def __len__(self) -> int:
        return len(self.frame)

    def ids(self) -> np.ndarray:
        """Every claimed enrollment id (int64, claim order)."""
        return self.frame["enrollment_id"].to_numpy(dtype=object).astype("int64")

    def ids_without(self, *, plan_id: str) -> np.ndarray:
        """The claimed ids, leaving out those first claimed by runs of ``plan_id``: the claim
        set as that plan saw it, if nothing else changed it since."""
        keep = self.frame["plan_id"].to_numpy(dtype=object) != plan_id
        return self.ids()[keep]

    def records(self) -> list[Claim]:
        """Every claim as a :class:`Claim`."""
        return [_claim(row) for row in self.frame.to_dict("records")]

    def by_course(self) -> dict[str, list[Claim]]:
        """Claims grouped by course ref, in claim order."""
        out: dict[str, list[Claim]] = {}
        for claim in self.records():
            out.setdefault(claim.course, []).append(claim)
        return out

    def add(self, claims: Iterable[Claim]) -> int:
        """Add claims for enrollments not claimed yet (an existing record is kept as it is);
        returns how many were new."""
        fresh = [c for c in claims if c.how in HOW]
        if not fresh:
            return 0
        rows = pd.DataFrame([_row(c) for c in fresh], columns=list(COLUMNS), dtype=object)
        rows = rows.drop_duplicates("enrollment_id", keep="first")
        rows = rows[~rows["enrollment_id"].isin(set(self.frame["enrollment_id"].tolist()))]
        if rows.empty:
            return 0
        self.frame = pd.concat([self.frame, rows], ignore_index=True)
        return len(rows)

    def save(self) -> None:
        """Write the file atomically (a reader never sees half of it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": FORMAT_VERSION, "canvas_url": self.canvas_url, "account": self.account}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(HEADER + json.dumps(meta, sort_keys=True) + "\n")
                self.frame.to_csv(fh, index=False, columns=list(COLUMNS), lineterminator="\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})


def _read(path: Path, canvas_url: str | None, account: str) -> pd.DataFrame:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClaimsError(f"{path}: cannot read the claim set: {exc}") from exc
    first, _, body = text.partition("\n")
    if not first.startswith(HEADER):
        raise ClaimsError(f"{path}:1: not a claim set (the first line must start with {HEADER.strip()!r})")
    try:
        meta = json.loads(first[len(HEADER) :])
    except ValueError as exc:
        raise ClaimsError(f"{path}:1: the claim set's first line is not valid: {exc}") from exc
    if not isinstance(meta, Mapping) or meta.get("format_version") != FORMAT_VERSION:
        raise ClaimsError(f"{path}:1: claim set format {meta!r} is not supported (this version reads 1)")
    if not _same_url(meta.get("canvas_url"), canvas_url) or str(meta.get("account")) != str(account):
        raise ClaimsError(
            f"{path}:1: this claim set belongs to {meta.get('canvas_url')} (account {meta.get('account')}), "
            f"not {canvas_url} (account {account})"
        )
    try:
        frame = pd.read_csv(
            io.StringIO(body), dtype=str, keep_default_na=False, na_filter=False, quoting=csv.QUOTE_MINIMAL
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise ClaimsError(f"{path}: not a valid CSV claim set: {exc}") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ClaimsError(f"{path}:2: missing column {missing[0]} (the header must be {','.join(COLUMNS)})")
    frame = frame[list(COLUMNS)].astype(object)
    _check(path, frame)
    return frame.reset_index(drop=True)


def _check(path: Path, frame: pd.DataFrame) -> None:
    """Refuse the first bad value with its line (the header is line 2) and column."""

    def bad(mask: np.ndarray, column: str, why: str) -> None:
        if mask.any():
            line = int(np.flatnonzero(mask)[0]) + 3
            value = frame[column].iloc[line - 3]
            raise ClaimsError(f"{path}:{line}: column {column}: {why} (got {value!r})")

    def text(column: str) -> pd.Series:
        return frame[column].astype(str)

    bad(~text("enrollment_id").str.fullmatch(_ID).to_numpy(dtype=bool), "enrollment_id", "not a Canvas id")
    for column in ("course_id", "section_id", "user_id"):
        bad(~text(column).str.fullmatch(_OPTIONAL_ID).to_numpy(dtype=bool), column, "not a Canvas id")
    for column in ("course", "user", "role"):
        bad((text(column).str.strip() == "").to_numpy(dtype=bool), column, "must not be empty")
    bad(~frame["how"].isin(HOW).to_numpy(dtype=bool), "how", f"must be one of {', '.join(HOW)}")
    bad(frame["enrollment_id"].duplicated().to_numpy(dtype=bool), "enrollment_id", "claimed twice")


def _row(claim: Claim) -> dict[str, str]:
    def number(value: int | None) -> str:
        return "" if value is None else str(int(value))

    return {
        "enrollment_id": str(int(claim.enrollment_id)),
        "course_id": number(claim.course_id),
        "course": claim.course,
        "section_id": number(claim.section_id),
        "section": claim.section or "",
        "user_id": number(claim.user_id),
        "user": claim.user,
        "role": claim.role,
        "claimed_at": claim.claimed_at,
        "run_id": claim.run_id,
        "plan_id": claim.plan_id,
        "how": claim.how,
    }


def _claim(row: Mapping[str, str]) -> Claim:
    def number(value: str) -> int | None:
        return int(value) if value else None

    return Claim(
        enrollment_id=int(row["enrollment_id"]),
        course=row["course"],
        role=row["role"],
        user=row["user"],
        section=row["section"] or None,
        course_id=number(row["course_id"]),
        section_id=number(row["section_id"]),
        user_id=number(row["user_id"]),
        claimed_at=row["claimed_at"],
        run_id=row["run_id"],
        plan_id=row["plan_id"],
        how=row["how"],
    )
