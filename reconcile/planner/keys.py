"""Turning refs into join keys, and values into request text. Pure, vectorised where it matters.

A desired row names a user as ``sis_user_id:X``, ``sis_integration_id:X``,
``sis_login_id:X`` or a numeric Canvas id (:mod:`reconcile.ids`). Canvas reports each
enrollment's user with all of those columns, so for every spelling the roster uses we
build the same spelling on the current side and join on plain strings: cheaper than
resolving a million refs to numeric ids first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
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

_NUMERIC = re.compile(r"\A\d{1,19}\Z")
NO_ASSOCIATE = -1
_PREFIXES = ("sis_user_id", "sis_integration_id", "sis_login_id", "sis_section_id", "sis_course_id")
_VECTOR_MAX = 256  # longer refs go the slow way rather than inflate a fixed-width array  # join key for "no associated user" (NA never equals NA in a join we trust)


Factorized = tuple[np.ndarray, np.ndarray]  # (codes, uniques) of a column, from factorize()


def factorize(column: pd.Series) -> Factorized:
    """``(codes, uniques)`` of a column's values in order of first appearance; missing values
    (None, NA, NaN) get code -1 and are not among the uniques.

    Hands pandas the column's own object array: asking for ``na_value=None`` first would scan
    and copy a million-row string column just to swap one missing marker for another that
    factorize treats the same."""
    return pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)


def in_names(factorized: tuple[np.ndarray, np.ndarray], names: Iterable[str]) -> np.ndarray:
    """Row mask of a :func:`factorize` d column whose value is one of ``names`` (missing: False):
    ``Series.isin`` decided once per distinct value instead of once per row."""
    codes, uniques = factorized
    wanted = set(names)
    hit = np.fromiter((u in wanted for u in uniques.tolist()), dtype=bool, count=len(uniques))
    return np.append(hit, False)[codes]  # code -1 (missing) reads the trailing False


def split_unique(refs: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, kinds, values)``: each row's code into the distinct refs, and each distinct
    ref's kind (``id`` for plain numbers, value an int; else the prefix before ``:``, value
    the rest, logins lower-cased as Canvas compares them). Missing refs have code -1."""
    codes, uniques = factorize(refs)
    count = len(uniques)
    kinds = np.full(count, "", dtype=object)
    values = np.full(count, None, dtype=object)
    done = np.zeros(count, dtype=bool)
    if count and max(map(len, uniques.tolist())) <= _VECTOR_MAX:
        # the common spellings, split with numpy's C string routines rather than a Python loop
        text = np.asarray(uniques.tolist(), dtype=str)
        for prefix in _PREFIXES:
            hit = np.strings.startswith(text, prefix + ":")
            if hit.any():
                rest = np.strings.slice(text[hit], len(prefix) + 1, None)
                if USER_KINDS.get(prefix, ("", False))[1]:
                    rest = np.strings.lower(rest)
                kinds[hit] = prefix
                values[hit] = rest.astype(object)
                done |= hit
    for pos in np.flatnonzero(~done).tolist():
        text_ref = str(uniques[pos])
        if _NUMERIC.match(text_ref):
            kinds[pos], values[pos] = "id", int(text_ref)
            continue
        kind, _, value = text_ref.partition(":")
        kinds[pos] = kind
        values[pos] = value.lower() if USER_KINDS.get(kind, ("", False))[1] else value
    return codes, kinds, values


def split_refs(refs: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise ``(kind, value)`` object arrays (see :func:`split_unique`); missing refs give kind ``""``."""
    codes, kinds, values = split_unique(refs)
    kind_arr = np.append(kinds, "").astype(object)
    value_arr = np.concatenate((values, np.array([None], dtype=object)))
    return kind_arr[codes], value_arr[codes]  # code -1 (missing) picks the trailing sentinel


# states and statuses as small integer codes: comparing a million int8s is ~50x cheaper than strings
VOCAB = (
    "",
    "active",
    "invited",
    "creation_pending",
    "inactive",
    "completed",
    "rejected",
    "deleted",
    "deleted_last_completed",
    "dropped",
)
CODE = {word: number for number, word in enumerate(VOCAB)}


def words(column: pd.Series | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A column of states or statuses (or its :func:`factorize`) as int8 codes into
    :data:`VOCAB` (missing or unknown: 0)."""
    codes, uniques = column if isinstance(column, tuple) else factorize(column)
    table = np.array([*(CODE.get(str(u), 0) for u in uniques), 0], dtype="int8")  # code -1 reads 0
    return table[codes]


def among(values: np.ndarray, names: tuple[str, ...] | str) -> np.ndarray:
    """Mask of the codes in ``values`` that spell one of ``names``."""
    if isinstance(names, str):
        return values == CODE[names]
    result = np.zeros(len(values), dtype=bool)
    for name in names:
        result |= values == CODE[name]
    return result


def current_user_values(current: pd.DataFrame, kind: str) -> np.ndarray:
    """Each current row's user in the value space of ``kind`` (None or NA where Canvas gave no value)."""
    column, lower = USER_KINDS[kind]
    if kind == "id":
        return current[column].to_numpy(dtype=object)
    values = current[column]
    if lower:
        values = values.astype("string").str.lower()
    return values.to_numpy(dtype=object)


def section_ids(sections: pd.Series, current: pd.DataFrame) -> np.ndarray:
    """Numeric section id for each section ref (int64): -1 for none, -2 when Canvas showed no such section."""
    codes, kinds, values = split_unique(sections)
    ids = np.full(len(kinds), -2, dtype="int64")
    numeric = kinds == "id"
    ids[numeric] = values[numeric].astype("int64")
    sis = kinds == "sis_section_id"
    if sis.any():
        # one (sis id, numeric id) pair per section, found through the integer column
        section_col = current["course_section_id"].to_numpy(dtype="int64", na_value=-2)
        _, first = np.unique(section_col, return_index=True)
        names = current["sis_section_id"].to_numpy(dtype=object)[first].tolist()  # NA keys match no value
        table = dict(zip(names, section_col[first].tolist(), strict=True))
        ids[sis] = [table.get(v, -2) for v in values[sis].tolist()]
    return np.append(ids, -1)[codes]


def current_section_ref(current: pd.DataFrame) -> pd.Series:
    """Each current row's section as a ref: ``sis_section_id:X`` when it has one, else its numeric id."""
    sis = current["sis_section_id"].astype("string")
    numeric = current["course_section_id"].astype("string")
    return ("sis_section_id:" + sis).fillna(numeric).astype(object)


def current_user_ref(current: pd.DataFrame) -> pd.Series:
    """Each current row's user as a ref for display: SIS id when known, else the numeric id."""
    sis = current["sis_user_id"].astype("string")
    return ("sis_user_id:" + sis).fillna(current["user_id"].astype("string")).astype(object)


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
    """:func:`iso` for a whole column (numpy's C formatter; sub-second values the slow way)."""
    if values.isna().all():
        return [None] * len(values)
    stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z").astype(object)
    text[np.isnat(stamps)] = None
    fractional = ~np.isnat(stamps) & (stamps.astype("int64") % 1_000_000 != 0)
    for pos in np.flatnonzero(fractional):
        text[pos] = iso(pd.Timestamp(stamps[pos], tz="UTC"))
    return text.tolist()


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


def micros(column: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch; NaT becomes numpy's NaT integer (int64 min)."""
    naive = pd.to_datetime(column, utc=True).dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[us]").view("int64")
