"""Raw roster rows (SIS column names, string cells) -> desired rows + problems.

Every format ends here: the SIS CSV loader hands over its table as read, the YAML and
OneRoster loaders first expand their documents into the same SIS-named columns. A cell
that is ``<NA>`` means the attribute was absent (unmanaged); ``""`` means present but
empty ("should be empty"). Checks are vectorised; only rows with problems are visited
one by one. Rows with an error are left out of the desired rows (the result is not ok
anyway), so later checks do not trip over them twice. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from reconcile.frames import ROLE_WORDS, STATUSES
from reconcile.roster import values as V
from reconcile.roster.csvread import FILE, ROW
from reconcile.roster.problems import Problem, did_you_mean, error, warning


@dataclass(frozen=True)
class Rules:
    """How to read cells. ``custom_roles``: declared custom role name -> base type or None."""

    custom_roles: dict[str, str | None] = field(default_factory=dict)
    default_status: str | None = None  # None: status is required in every row
    yaml_users: bool = False  # user cells may carry integration:/login:/sis: prefixes


class _Collector:
    def __init__(self, raw: pd.DataFrame, file: str) -> None:
        self.rows = raw[ROW].to_numpy(dtype=object)
        self.file = file
        self.files = raw[FILE].to_numpy(dtype=object) if FILE in raw.columns else None
        self.bad = np.zeros(len(raw), dtype=bool)
        self.problems: list[Problem] = []

    def errors(self, mask: np.ndarray | pd.Series, column: str, code: str, message: pd.Series | str) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        self.bad[idx] = True
        texts = message.to_numpy(dtype=object) if isinstance(message, pd.Series) else None
        for i in idx:
            text = texts[i] if texts is not None else message
            self.problems.append(error(self.where(i), self.rows[i], column, code, str(text)))

    def warnings(self, mask: np.ndarray | pd.Series, column: str | None, code: str, message: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            self.problems.append(warning(self.where(i), self.rows[i], column, code, message))

    def where(self, i: int | np.integer) -> str:
        return self.file if self.files is None else str(self.files[i])


def _present(raw: pd.DataFrame, name: str) -> pd.Series | None:
    return V.strip(raw[name]) if name in raw.columns else None


def _empty(series: pd.Series | None, length: int) -> np.ndarray:
    if series is None:
        return np.ones(length, dtype=bool)
    return np.asarray(series.isna() | (series == ""), dtype=bool)


def normalise(raw: pd.DataFrame, file: str, rules: Rules) -> tuple[pd.DataFrame, list[Problem]]:
    """Check and convert ``raw`` rows; return desired rows (not yet conformed) and problems."""
    n = len(raw)
    out = _Collector(raw, file)
    cols: dict[str, object] = {}

    course = _present(raw, "course_id")
    section = _present(raw, "section_id")
    no_course = _empty(course, n)
    no_section = _empty(section, n)
    out.errors(
        no_course & ~no_section,
        "course_id",
        "section_without_course",
        "section_id without course_id: this tool needs the course too (add the course_id column value)",
    )
    out.errors(no_course & no_section, "course_id", "missing_value", "course_id is empty")
    cols["course"] = _refs(out, course, "course_id", "sis_course_id", n)
    cols["section"] = _refs(out, section, "section_id", "sis_section_id", n)

    user_id = _present(raw, "user_id")
    integration = _present(raw, "user_integration_id")
    by_integration = ~_empty(integration, n)
    out.errors(_empty(user_id, n) & ~by_integration, "user_id", "missing_value", "user_id is empty")
    if rules.yaml_users:
        sis_users = _refs(out, user_id, "user_id", None, n)
    else:
        sis_users = _refs(out, user_id, "user_id", "sis_user_id", n)
    integ_users = _refs(out, integration, "user_integration_id", "sis_integration_id", n)
    # Canvas ignores user_id when user_integration_id is present (facts §12).
    cols["user"] = pd.Series(np.where(by_integration, integ_users, sis_users), index=raw.index, dtype=object)

    _roles(out, raw, rules, cols, n)
    _status(out, raw, rules, cols, n)
    _dates(out, raw, cols, n)
    _flags(out, raw, cols, n)

    observee = _present(raw, "associated_user_id")
    if rules.yaml_users:
        cols["associated_user"] = _refs(out, observee, "associated_user_id", None, n)
    else:
        cols["associated_user"] = _refs(out, observee, "associated_user_id", "sis_user_id", n)
    _observers(out, cols, n)
    _ignored_columns(out, raw, n)

    cols["origin_file"] = raw[FILE] if FILE in raw.columns else pd.Series(file, index=raw.index, dtype=object)
    cols["origin_row"] = raw[ROW]
    frame = pd.DataFrame(cols, index=raw.index)
    return frame[~out.bad].reset_index(drop=True), out.problems


def _refs(out: _Collector, cells: pd.Series | None, column: str, sis: str | None, n: int) -> pd.Series:
    """Id cells -> refs; empty -> None; malformed -> error. ``sis`` None = YAML user spelling."""
    if cells is None:
        return pd.Series([None] * n, dtype=object)
    nonempty = cells.where(cells != "", None)
    fault = V.per_unique(nonempty, V.id_faults)
    bad = fault.notna() & (fault != "")
    if bad.any():
        out.errors(bad, column, "malformed_id", fault.where(bad, "").map(lambda f: f"malformed id: {f}"))
    if sis is None:
        return V.per_unique(nonempty, V.user_refs)
    return V.per_unique(nonempty, lambda u: V.to_ref(u, sis))


def _roles(out: _Collector, raw: pd.DataFrame, rules: Rules, cols: dict[str, object], n: int) -> None:
    role = _present(raw, "role")
    role_id = _present(raw, "role_id")
    no_role = _empty(role, n)
    no_role_id = _empty(role_id, n)
    out.errors(no_role & no_role_id, "role", "missing_value", "role is empty (give role or role_id)")
    lookup = V.role_lookup(rules.custom_roles)
    if role is not None:
        found = V.per_unique(role.where(role != "", None), lambda u: u.map(lookup))
        unknown = found.isna() & ~pd.Series(no_role, index=raw.index)
        if unknown.any():
            choices = [*ROLE_WORDS, *rules.custom_roles]
            message = role.where(unknown, "").map(
                lambda r: (
                    f'unknown role "{r}"{did_you_mean(r, choices)}'
                    + (
                        ""
                        if did_you_mean(r, choices)
                        else "; declare custom roles in the config (roster.custom_roles)"
                    )
                )
            )
            out.errors(unknown, "role", "unknown_role", message)
        cols["role"] = found.map(lambda t: t[0] if t else None)
        cols["type"] = found.map(lambda t: t[1] if t else None)
    else:
        cols["role"] = pd.Series([None] * n, dtype=object)
        cols["type"] = pd.Series([None] * n, dtype=object)
    if role_id is not None:
        numeric = role_id.str.fullmatch(r"\d{1,19}").fillna(False).astype(bool)
        out.errors(
            ~numeric & ~no_role_id, "role_id", "malformed_id", "role_id must be a numeric Canvas role id"
        )
        cols["role_id"] = role_id.where(numeric, None)
    else:
        cols["role_id"] = pd.Series([None] * n, dtype=object)


def _status(out: _Collector, raw: pd.DataFrame, rules: Rules, cols: dict[str, object], n: int) -> None:
    status = _present(raw, "status")
    empty = _empty(status, n)
    if rules.default_status is None:
        out.errors(empty, "status", "missing_value", "status is empty")
    if status is None:
        cols["status"] = pd.Series([rules.default_status] * n, dtype=object)
        return
    parsed = V.per_unique(status.where(status != "", None), V.statuses)
    unknown = parsed.isna() & ~pd.Series(empty, index=raw.index)
    if unknown.any():
        out.errors(
            unknown,
            "status",
            "unknown_status",
            status.where(unknown, "").map(lambda s: f'unknown status "{s}"{did_you_mean(s, STATUSES)}'),
        )
    cols["status"] = parsed.where(~pd.Series(empty, index=raw.index), rules.default_status)


def _date_column(out: _Collector, cells: pd.Series | None, column: str, n: int) -> pd.Series:
    if cells is None:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    parsed = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[us, UTC]")
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    if len(uniques):
        stamps, fault = V.dates(pd.Series(uniques, dtype=object))
        stamp_values = stamps.astype("datetime64[us, UTC]").array
        take = np.where(codes < 0, 0, codes)
        parsed = pd.Series(stamp_values.take(take), index=cells.index).where(codes >= 0, pd.NaT)
        fault_cells = pd.Series(fault.to_numpy(dtype=object)[take], index=cells.index).where(codes >= 0, "")
        bad = fault_cells != ""
        if bad.any():
            out.errors(bad, column, "bad_date", fault_cells)
    return parsed


def _dates(out: _Collector, raw: pd.DataFrame, cols: dict[str, object], n: int) -> None:
    start = _present(raw, "start_date")
    end = _present(raw, "end_date")
    cols["start_at"] = start_at = _date_column(out, start, "start_date", n)
    cols["end_at"] = end_at = _date_column(out, end, "end_date", n)
    present = ~(_empty_na(start, n) & _empty_na(end, n))
    cols["dates_managed"] = present
    start_set = start_at.notna().to_numpy()
    end_set = end_at.notna().to_numpy()
    message = "only one of start_date/end_date is set: Canvas applies enrollment dates only when both are"
    out.warnings(start_set & ~end_set & ~out.bad, "end_date", "half_dates", message)
    out.warnings(end_set & ~start_set & ~out.bad, "start_date", "half_dates", message)
    backwards = (start_at > end_at).fillna(False).to_numpy(dtype=bool)
    out.errors(backwards, "end_date", "end_before_start", "end_date is before start_date")
    last = _present(raw, "last_attended_at")
    cols["last_attended_at"] = _date_column(out, last, "last_attended_at", n)
    cols["last_attended_managed"] = ~_empty_na(last, n)


def _empty_na(series: pd.Series | None, n: int) -> np.ndarray:
    """True where the attribute is absent (column missing, or <NA> in a YAML row)."""
    if series is None:
        return np.ones(n, dtype=bool)
    return np.asarray(series.isna(), dtype=bool)


def _flags(out: _Collector, raw: pd.DataFrame, cols: dict[str, object], n: int) -> None:
    for column, target, empty in (
        ("limit_section_privileges", "limit_section_privileges", False),
        ("notify", "notify", None),
    ):
        cells = _present(raw, column)
        if cells is None:
            cols[target] = pd.Series([None] * n, dtype=object)
            continue
        parsed = V.per_unique(cells, partial(_bool_values, empty=empty))
        bad = V.per_unique(cells, _bool_faults).fillna(False).astype(bool)
        if bad.any():
            out.errors(
                bad, column, "bad_boolean", cells.where(bad, "").map(lambda v: f"not true or false: {v!r}")
            )
        cols[target] = parsed.where(~bad, None)
    limit = _present(raw, "limit_section_privileges")
    cols["limit_managed"] = ~_empty_na(limit, n)


def _bool_values(uniques: pd.Series, *, empty: bool | None) -> pd.Series:
    return V.booleans(uniques, empty=empty)[0]


def _bool_faults(uniques: pd.Series) -> pd.Series:
    return V.booleans(uniques, empty=None)[1]


def _observers(out: _Collector, cols: dict[str, object], n: int) -> None:
    base = cols["type"]
    observee = cols["associated_user"]
    assert isinstance(base, pd.Series) and isinstance(observee, pd.Series)
    is_observer = (base == "ObserverEnrollment").fillna(False).to_numpy(dtype=bool)
    known = base.notna().to_numpy(dtype=bool)
    has = observee.notna().to_numpy(dtype=bool)
    out.errors(
        has & known & ~is_observer,
        "associated_user_id",
        "observee_on_non_observer",
        "associated_user_id is set but the role is not an observer (Canvas refuses this)",
    )
    out.warnings(
        is_observer & ~has & ~out.bad,
        "associated_user_id",
        "observer_without_observee",
        "observer without associated_user_id: Canvas accepts it, but the observer will see no student",
    )
    user = cols["user"]
    assert isinstance(user, pd.Series)
    out.errors(
        has & (observee == user).fillna(False).to_numpy(dtype=bool),
        "associated_user_id",
        "observes_self",
        "an observer cannot observe themself",
    )


def _ignored_columns(out: _Collector, raw: pd.DataFrame, n: int) -> None:
    temporary = _present(raw, "temporary_enrollment_source_user_id")
    if temporary is not None:
        out.errors(
            ~_empty(temporary, n),
            "temporary_enrollment_source_user_id",
            "unsupported",
            "temporary enrollments are never managed by this tool; leave this column empty",
        )
    root = _present(raw, "root_account")
    if root is not None:
        used = np.flatnonzero(~_empty(root, n))
        if len(used):
            out.problems.append(
                warning(
                    out.where(used[0]),
                    out.rows[used[0]],
                    "root_account",
                    "ignored",
                    f"root_account is ignored ({len(used)} rows set it): the tool works in the token's root account",
                )
            )
