"""Raw roster rows (SIS column names, string cells) -> desired rows + problems.

Every format ends here: the SIS CSV loader hands over its table as read, the YAML and
OneRoster loaders first expand their documents into the same SIS-named columns. A cell
that is <NA> means the attribute was absent (unmanaged); ``""`` means present but empty
("should be empty"). Work is done per distinct cell value (:class:`Cells`); only rows
with problems are visited one by one. Rows with an error are left out of the desired
rows (the result is not ok anyway), so later checks do not report them twice. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reconcile.frames import DESIRED_COLUMNS, ROLE_WORDS, STATUSES
from reconcile.roster import values as V
from reconcile.roster.cells import Cells, identity_codes
from reconcile.roster.csvread import FILE, ROW
from reconcile.roster.problems import Problem, did_you_mean, error, warning
from reconcile.roster.sis_csv import COLUMNS as SIS_COLUMNS

NAT = np.datetime64("NaT", "us")
OBSERVER = ROLE_WORDS["observer"]


@dataclass(frozen=True)
class Rules:
    """How to read cells. ``custom_roles``: declared custom role name -> base type or None."""

    custom_roles: dict[str, str | None] = field(default_factory=dict)
    default_status: str | None = None  # None: status is required in every row
    yaml_users: bool = False  # user cells may carry integration:/login:/sis: prefixes


class _Collector:
    def __init__(self, raw: pd.DataFrame, file: str) -> None:
        # Row labels are looked up only for rows with a problem: no per-row boxing up front.
        self.rows = raw[ROW].to_numpy()
        self.file = file
        self.files = raw[FILE].to_numpy(dtype=object) if FILE in raw.columns else None
        self.bad = np.zeros(len(raw), dtype=bool)
        self.problems: list[Problem] = []

    def where(self, i: int | np.integer) -> str:
        return self.file if self.files is None else str(self.files[i])

    def errors(
        self,
        mask: np.ndarray,
        column: str,
        code: str,
        message: str | dict[int, str],
        cells: Cells | None = None,
    ) -> None:
        """Report rows in ``mask``; a dict message is looked up by the row's value code."""
        for i in np.flatnonzero(mask):
            self.bad[i] = True
            text = message if isinstance(message, str) else message[int(cells.codes[i])] if cells else ""
            self.problems.append(error(self.where(i), str(self.rows[i]), column, code, text))

    def warnings(self, mask: np.ndarray, column: str | None, code: str, message: str) -> None:
        for i in np.flatnonzero(mask & ~self.bad):
            self.problems.append(warning(self.where(i), str(self.rows[i]), column, code, message))


def normalise(
    raw: pd.DataFrame, file: str, rules: Rules
) -> tuple[pd.DataFrame, list[Problem], dict[str, np.ndarray]]:
    """Check and convert ``raw``; return desired rows (not yet conformed), problems and
    per-row identity codes (equal identity column values <=> equal codes, -1 = empty)."""
    n = len(raw)
    out = _Collector(raw, file)
    cells = {
        name: (Cells.rows if name == "user_id" else Cells.of)(raw[name])
        if name in raw.columns
        else Cells.absent(n)
        for name in SIS_COLUMNS
    }
    cols: dict[str, object] = {}
    keys: dict[str, np.ndarray] = {}

    course, section = cells["course_id"], cells["section_id"]
    no_course, no_section = course.missing(), section.missing()
    out.errors(
        no_course & ~no_section,
        "course_id",
        "section_without_course",
        "section_id without course_id: this tool needs the course too (add the course_id column value)",
    )
    out.errors(no_course & no_section, "course_id", "missing_value", "course_id is empty")
    cols["course"], keys["course"] = _refs(out, course, "course_id", "sis_course_id")
    cols["section"], keys["section"] = _refs(out, section, "section_id", "sis_section_id")

    user_prefix = None if rules.yaml_users else "sis_user_id"
    sis_user, integration = cells["user_id"], cells["user_integration_id"]
    by_integration = ~integration.missing()
    out.errors(sis_user.missing() & ~by_integration, "user_id", "missing_value", "user_id is empty")
    sis_refs, sis_keys = _refs(out, sis_user, "user_id", user_prefix)
    if by_integration.any():
        # Canvas ignores user_id when user_integration_id is present (facts §12).
        integ_refs, _ = _refs(out, integration, "user_integration_id", "sis_integration_id")
        users = np.where(
            by_integration, np.asarray(integ_refs, dtype=object), np.asarray(sis_refs, dtype=object)
        )
        keys["user"] = pd.factorize(users, use_na_sentinel=True)[0].astype(np.int64)
        cols["user"] = pd.arrays.StringArray(users)
    else:
        cols["user"], keys["user"] = sis_refs, sis_keys

    role_types = _roles(out, cells, rules, cols, keys)
    _status(out, cells["status"], rules, cols)
    _dates(out, cells, cols)
    _flags(out, cells, cols)
    cols["associated_user"], keys["associated_user"] = _refs(
        out, cells["associated_user_id"], "associated_user_id", user_prefix
    )
    _observers(out, cols, cells, role_types)
    _ignored_columns(out, cells)

    keep = ~out.bad
    everything = bool(keep.all())
    if not everything:
        cols = {name: _subset(value, keep) for name, value in cols.items()}
        keys = {name: codes[keep] for name, codes in keys.items()}
    files = (
        pd.arrays.StringArray(raw[FILE].to_numpy(dtype=object))
        if FILE in raw.columns
        else pd.arrays.StringArray(np.array([file], dtype=object)).take(np.zeros(n, dtype=np.intp))
    )
    rows = raw[ROW].to_numpy()
    cols["origin_file"] = files if everything else files[keep]
    cols["origin_row"] = _row_labels(rows if everything else rows[keep])
    for name in _STRINGS:
        if not isinstance(cols[name], pd.arrays.StringArray):
            cols[name] = pd.arrays.StringArray(np.asarray(cols[name], dtype=object))
    for name in ("start_at", "end_at", "last_attended_at"):
        cols[name] = pd.DatetimeIndex(cols[name]).tz_localize("UTC").array
    # Built in the contract's column order and dtypes, so conform has nothing left to do.
    return pd.DataFrame({name: cols[name] for name in DESIRED_COLUMNS}, copy=False), out.problems, keys


def _row_labels(rows: np.ndarray) -> np.ndarray:
    """Row numbers (or YAML paths) as strings; str() of Python ints beats numpy's."""
    if rows.dtype.kind == "i" and len(rows) and rows[-1] - rows[0] == len(rows) - 1:
        return np.array(list(map(str, range(int(rows[0]), int(rows[-1]) + 1))), dtype=object)
    return np.array(list(map(str, rows.tolist())), dtype=object)


def _subset(value: object, keep: np.ndarray) -> object:
    if isinstance(value, np.ndarray | pd.api.extensions.ExtensionArray):
        return value[keep]
    return value


_STRINGS = (
    "course",
    "section",
    "user",
    "role",
    "type",
    "status",
    "associated_user",
    "origin_file",
    "origin_row",
)


def _refs(
    out: _Collector, cells: Cells, column: str, prefix: str | None
) -> tuple[pd.arrays.StringArray, np.ndarray]:
    """Per-row refs (None where empty) and identity codes; malformed ids are errors.

    ``prefix`` None reads YAML user spellings (integration:X, login:X, canvas:N).
    """
    values = cells.values
    if prefix is None:
        refs = np.array(V.user_refs(pd.Series(values, dtype=object)).tolist(), dtype=object)
    else:
        head = prefix + ":"
        refs = np.add(head, values)  # numpy concatenates without a Python-level loop
    faults: dict[int, str] = {}
    # Only values that are empty, contain a colon or an unprintable character need a closer
    # look; one pass over all of them joined finds out whether there are any.
    if cells.joined is not None:  # NUL-separated: a NUL inside a value shows as an extra one
        joined = cells.joined
        printable = joined.count("\x00") == len(values) - 1 and joined.replace("\x00", "").isprintable()
    else:
        joined = "".join(values)
        printable = joined.isprintable()
    clean = ":" not in joined and printable and not cells.empty_values.any()
    for i in [] if clean else [i for i, v in enumerate(values) if not v or ":" in v or not v.isprintable()]:
        text = values[i]
        if not text:
            refs[i] = None
        elif not text.isprintable():
            faults[i] = "malformed id: contains a control or invisible character"
        elif text.lower().startswith("canvas:"):
            digits = text[7:]
            if digits.isascii() and digits.isdigit() and len(digits) <= 19:
                refs[i] = digits
            else:
                faults[i] = "malformed id: canvas: must be followed by a numeric Canvas id"
    if faults:
        bad = np.zeros(len(values), dtype=bool)
        bad[list(faults)] = True
        out.errors(cells.rows_where(bad), column, "malformed_id", faults, cells)
    return cells.take_strings(refs), identity_codes(cells, refs)


def _roles(
    out: _Collector,
    cells: dict[str, Cells],
    rules: Rules,
    cols: dict[str, object],
    keys: dict[str, np.ndarray],
) -> np.ndarray:
    """Fill role, type and role_id; return the base type of each distinct role value."""
    role, role_id = cells["role"], cells["role_id"]
    no_role, no_role_id = role.missing(), role_id.missing()
    out.errors(no_role & no_role_id, "role", "missing_value", "role is empty (give role or role_id)")
    lookup = V.role_lookup(rules.custom_roles)
    found = [lookup(v) if v else None for v in role.values]
    names = np.array([f[0] if f else None for f in found], dtype=object)
    types = np.array([f[1] if f else None for f in found], dtype=object)
    unknown = np.array([bool(v) and f is None for v, f in zip(role.values, found, strict=True)], dtype=bool)
    if unknown.any():
        choices = [*ROLE_WORDS, *rules.custom_roles]
        messages = {}
        for i in np.flatnonzero(unknown):
            value = role.values[i]
            hint = (
                did_you_mean(value, choices) or "; declare custom roles in the config (roster.custom_roles)"
            )
            messages[int(i)] = f'unknown role "{value}"{hint}'
        out.errors(role.rows_where(unknown), "role", "unknown_role", messages, role)
    cols["role"] = role.take_strings(names)
    cols["type"] = role.take_strings(types)
    ids = [int(v) if v.isascii() and v.isdigit() and len(v) <= 18 else None for v in role_id.values]
    bad_id = np.array([bool(v) and i is None for v, i in zip(role_id.values, ids, strict=True)], dtype=bool)
    out.errors(
        role_id.rows_where(bad_id), "role_id", "malformed_id", "role_id must be a numeric Canvas role id"
    )
    id_values = role_id.take(np.array([-1 if i is None else i for i in ids], dtype=np.int64), -1)
    cols["role_id"] = pd.arrays.IntegerArray(np.maximum(id_values, 0), id_values < 0)
    name_codes = pd.factorize(np.array([x or "" for x in names], dtype=object))[0]
    keys["role"] = role.take(name_codes.astype(np.int64), -1) * (1 << 20) + (id_values % (1 << 20))
    return types


def _status(out: _Collector, status: Cells, rules: Rules, cols: dict[str, object]) -> None:
    empty = status.missing()
    if rules.default_status is None:
        out.errors(empty, "status", "missing_value", "status is empty")
    lowered = [v.lower() for v in status.values]
    parsed = np.array([v if v in STATUSES else None for v in lowered], dtype=object)
    unknown = np.array(
        [bool(v) and p is None for v, p in zip(status.values, parsed, strict=True)], dtype=bool
    )
    if unknown.any():
        messages = {
            int(i): f'unknown status "{status.values[i]}"{did_you_mean(status.values[i], STATUSES)}'
            for i in np.flatnonzero(unknown)
        }
        out.errors(status.rows_where(unknown), "status", "unknown_status", messages, status)
    empty_values = status.empty_values
    parsed[empty_values] = rules.default_status
    cols["status"] = status.take_strings(parsed, rules.default_status)


def _date_cells(out: _Collector, cells: Cells, column: str) -> np.ndarray:
    if not len(cells.values):
        return np.full(len(cells), NAT)
    stamps, fault = V.dates(pd.Series(cells.values, dtype=object))
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    bad = (fault != "").to_numpy()
    if bad.any():
        messages = {int(i): str(fault.iat[i]) for i in np.flatnonzero(bad)}
        out.errors(cells.rows_where(bad), column, "bad_date", messages, cells)
    return cells.take(naive, NAT)


def _dates(out: _Collector, cells: dict[str, Cells], cols: dict[str, object]) -> None:
    start, end, last = cells["start_date"], cells["end_date"], cells["last_attended_at"]
    cols["start_at"] = start_at = _date_cells(out, start, "start_date")
    cols["end_at"] = end_at = _date_cells(out, end, "end_date")
    cols["dates_managed"] = ~(start.absent_rows() & end.absent_rows())
    start_set, end_set = ~np.isnat(start_at), ~np.isnat(end_at)
    message = "only one of start_date/end_date is set: Canvas applies enrollment dates only when both are"
    out.warnings(start_set & ~end_set, "end_date", "half_dates", message)
    out.warnings(end_set & ~start_set, "start_date", "half_dates", message)
    out.errors(
        start_set & end_set & (start_at > end_at),
        "end_date",
        "end_before_start",
        "end_date is before start_date",
    )
    cols["last_attended_at"] = _date_cells(out, last, "last_attended_at")
    cols["last_attended_managed"] = ~last.absent_rows()


def _flags(out: _Collector, cells: dict[str, Cells], cols: dict[str, object]) -> None:
    for column, empty in (("limit_section_privileges", False), ("notify", None)):
        flag = cells[column]
        lowered = [v.lower() for v in flag.values]
        parsed = [empty if v == "" else V.BOOLEANS.get(v) for v in lowered]
        bad = np.array([v != "" and v not in V.BOOLEANS for v in lowered], dtype=bool)
        if bad.any():
            messages = {int(i): f"not true or false: {flag.values[i]!r}" for i in np.flatnonzero(bad)}
            out.errors(flag.rows_where(bad), column, "bad_boolean", messages, flag)
        known = np.array([p is not None for p in parsed], dtype=bool)
        values = np.array([bool(p) for p in parsed], dtype=bool)
        cols[column] = pd.arrays.BooleanArray(flag.take(values, False), ~flag.take(known, False))
    cols["limit_managed"] = ~cells["limit_section_privileges"].absent_rows()


def _observers(out: _Collector, cols: dict[str, object], cells: dict[str, Cells], types: np.ndarray) -> None:
    role = cells["role"]
    is_observer = role.rows_where(types == OBSERVER)
    known = role.rows_where(np.array([t is not None for t in types], dtype=bool))
    has = ~cells["associated_user_id"].missing()
    out.errors(
        has & known & ~is_observer,
        "associated_user_id",
        "observee_on_non_observer",
        "associated_user_id is set but the role is not an observer (Canvas refuses this)",
    )
    out.warnings(
        is_observer & ~has,
        "associated_user_id",
        "observer_without_observee",
        "observer without associated_user_id: Canvas accepts it, but the observer will see no student",
    )
    observee, user = cols["associated_user"], cols["user"]
    assert isinstance(observee, pd.arrays.StringArray) and isinstance(user, pd.arrays.StringArray)
    self_observing = np.zeros(len(has), dtype=bool)
    with_observee = np.flatnonzero(has)
    if len(with_observee):
        # <NA> on either side compares as <NA>, which is not a self-observation.
        same = observee[with_observee] == user[with_observee]
        self_observing[with_observee] = np.asarray(same.fillna(False), dtype=bool)
    out.errors(self_observing, "associated_user_id", "observes_self", "an observer cannot observe themself")


def _ignored_columns(out: _Collector, cells: dict[str, Cells]) -> None:
    out.errors(
        ~cells["temporary_enrollment_source_user_id"].missing(),
        "temporary_enrollment_source_user_id",
        "unsupported",
        "temporary enrollments are never managed by this tool; leave this column empty",
    )
    used = np.flatnonzero(~cells["root_account"].missing())
    if len(used):
        out.problems.append(
            warning(
                out.where(used[0]),
                str(out.rows[used[0]]),
                "root_account",
                "ignored",
                f"root_account is ignored ({len(used)} rows set it): the tool works in the token's root account",
            )
        )
