"""Turning refs into join keys, and values into request text. Pure, vectorised where it matters.

A desired row names a user as ``sis_user_id:X``, ``sis_integration_id:X``,
``sis_login_id:X`` or a numeric Canvas id (:mod:`reconcile.ids`). Canvas reports each
enrollment's user with all of those columns, so for every spelling the roster uses we
build the same spelling on the current side and join on plain strings: cheaper than
resolving a million refs to numeric ids first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

# ref prefix -> (current column holding the value, lower-case both sides?)
USER_KINDS: dict[str, tuple[str, bool]] = {
    "id": ("user_id", False),
    "sis_user_id": ("sis_user_id", False),
    "sis_integration_id": ("user_integration_id", False),
    "sis_login_id": ("login_id", True),  # Canvas matches logins case-insensitively (facts §9)
}
SECTION_KINDS: dict[str, str] = {"id": "course_section_id", "sis_section_id": "sis_section_id"}

NO_ASSOCIATE = -1  # join key for "no associated user" (NA never equals NA in a join we trust)


def ref_kind(refs: pd.Series) -> pd.Series:
    """The id form of each ref: ``id`` for plain numbers, else the prefix before ``:``."""
    text = refs.astype("string")
    numeric = text.str.fullmatch(r"\d{1,19}").fillna(False).astype(bool)
    prefix = text.str.split(":", n=1).str[0]
    return pd.Series(np.where(numeric, "id", prefix.fillna("").to_numpy(dtype=object)), index=refs.index)


def desired_user_key(users: pd.Series, kinds: pd.Series) -> pd.Series:
    """The string a desired user ref is joined on (login refs lower-cased)."""
    keys = users.astype(object)
    login = (kinds == "sis_login_id").to_numpy()
    if login.any():
        keys = keys.copy()
        keys[login] = users[login].astype("string").str.lower().astype(object)
    return keys


def current_user_key(current: pd.DataFrame, kind: str) -> pd.Series:
    """For each current row, its user spelled as a ref of ``kind`` (None where Canvas gave no value)."""
    column, lower = USER_KINDS[kind]
    values = current[column]
    if kind == "id":
        return values.astype("string").astype(object)
    text = values.astype("string")
    if lower:
        text = text.str.lower()
    return (kind + ":" + text).astype(object)


def current_section_ref(current: pd.DataFrame) -> pd.Series:
    """Each current row's section as a ref: ``sis_section_id:X`` when it has one, else its numeric id."""
    sis = current["sis_section_id"].astype("string")
    numeric = current["course_section_id"].astype("string")
    return ("sis_section_id:" + sis).fillna(numeric).astype(object)


def current_user_ref(current: pd.DataFrame) -> pd.Series:
    """Each current row's user as a ref for display: SIS id when known, else the numeric id."""
    sis = current["sis_user_id"].astype("string")
    return ("sis_user_id:" + sis).fillna(current["user_id"].astype("string")).astype(object)


def section_matches(desired_section: pd.Series, current: pd.DataFrame) -> np.ndarray:
    """Row-wise: does the desired section ref name the current row's section? (aligned positions)."""
    wanted = desired_section.astype("string").reset_index(drop=True)
    by_id = current["course_section_id"].astype("string").reset_index(drop=True)
    by_sis = ("sis_section_id:" + current["sis_section_id"].astype("string")).reset_index(drop=True)
    hit = (wanted == by_id).fillna(False) | (wanted == by_sis).fillna(False)
    return hit.to_numpy(dtype=bool)


def escape_ref(ref: str) -> str:
    """A ref as one URL path segment: UTF-8 percent-escaped, ``/`` included (facts §9)."""
    return quote(str(ref), safe=":")


def iso(value: Any) -> str | None:
    """A timestamp as Canvas writes it (``2026-01-31T23:59:00Z``); None for NaT/None."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stamp = stamp.tz_convert("UTC")
    if stamp.microsecond:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_series(values: pd.Series) -> list[str | None]:
    """:func:`iso` for a whole column, fast for the common whole-second case."""
    if values.isna().all():
        return [None] * len(values)
    stamps = pd.to_datetime(values, utc=True)
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    fractional = (stamps.dt.microsecond != 0).fillna(False).to_numpy()
    out: list[str | None] = [None if pd.isna(t) else str(t) for t in text.tolist()]
    for pos in np.flatnonzero(fractional):
        out[pos] = iso(stamps.iloc[pos])
    return out


def as_utc(now: dt.datetime | str | pd.Timestamp) -> pd.Timestamp:
    """``now`` as an aware UTC timestamp (naive input is taken to be UTC)."""
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def int_or_none(value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def text_or_none(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def bool_text(value: bool) -> str:
    """Rails reads ``"true"``/``"false"`` reliably in form parameters."""
    return "true" if value else "false"
