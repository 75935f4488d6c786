"""Canvas's provisioning report (facts §14.6): a whole account's enrollments as one CSV.

``POST /api/v1/accounts/:id/reports/provisioning_csv`` starts a report job; its status is
polled (``GET .../provisioning_csv/:report_id``, created → running → complete) and its
attachment downloaded. With ``enrollments`` and ``xlist`` both asked for, Canvas sends a zip
of one CSV per kind; with one kind, the CSV itself.

What the report can tell is less than the Enrollments API (read from canvas-lms
``gems/plugins/account_reports/lib/account_reports/sis_exporter.rb``):

- no dates, no ``updated_at``, no last-attended or activity, no login ids;
- ``status`` is ``invited`` for both ``invited`` and ``creation_pending``, and ``concluded``
  for ``completed``;
- a row per enrollment with *one* of the user's logins in the root account (chosen as Canvas
  chooses a user's SIS login): a user with no login there is left out, and the SIS id shown may
  not be the one a roster names (older Canvas joined the logins: a row per login);
- built-in roles under their SIS words (``student``), custom roles under their label;
- deleted rows only with ``include_deleted``, and then only those an SIS import made.

``user_observers`` gives the account's observer links (:func:`parse_links`), so the observer
rows Canvas keeps from them can be told from the roster's without a request per observer.

So :func:`parse_enrollments` gives the current-state frame shape with every such column left
empty, and says so in two extra columns: ``source`` (which report) and ``cannot_tell``.
Deciding what the report may decide is :mod:`reconcile.inventory`'s business.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from reconcile.canvas.errors import CanvasError
from reconcile.canvas.refs import segment
from reconcile.frames import CURRENT_COLUMNS, ROLE_WORDS, UTC_TS

if TYPE_CHECKING:
    from reconcile.canvas.client import CanvasClient

ENROLLMENT_COLUMNS = (
    "canvas_course_id",
    "course_id",
    "canvas_user_id",
    "user_id",
    "role",
    "role_id",
    "canvas_section_id",
    "section_id",
    "status",
    "canvas_associated_user_id",
    "associated_user_id",
    "created_by_sis",
    "base_role_type",
    "limit_section_privileges",
    "canvas_enrollment_id",
)
XLIST_COLUMNS = ("canvas_xlist_course_id", "canvas_section_id", "status", "canvas_nonxlist_course_id")
LINK_COLUMNS = ("canvas_observer_id", "canvas_student_id", "status")
KINDS = ("enrollments", "xlist", "user_observers")
# report status -> Enrollments API enrollment_state; "invited" stands for creation_pending too
STATES = {
    "active": "active",
    "invited": "invited",
    "concluded": "completed",
    "inactive": "inactive",
    "deleted": "deleted",
    "rejected": "rejected",
}
# what a report row cannot tell, as the planner's current-state columns
CANNOT_TELL = (
    "start_at",
    "end_at",
    "updated_at",
    "created_at",
    "last_attended_at",
    "last_activity_at",
    "login_id",
    "user_integration_id",
    "user_name",
    "sis_import_id",
    "temporary_enrollment_source_user_id",
)
MAX_BYTES = 4 << 30  # a report is refused past 4 GiB (some 40 million enrollment rows)
DONE = "complete"
FAILED = frozenset({"error", "deleted", "aborted"})


class ReportError(CanvasError):
    """The report could not be made, read or trusted; the message says which and why."""


@dataclass(frozen=True)
class Report:
    """A finished report: its id and the CSV text of each kind asked for."""

    id: int
    files: dict[str, bytes]  # "enrollments" | "xlist" -> CSV bytes
    polls: int = 0


def run_provisioning(
    client: CanvasClient,
    account: str,
    *,
    kinds: tuple[str, ...] = KINDS,
    include_deleted: bool = True,
    timeout: float = 1800.0,
    first_poll: float = 1.0,
    max_poll: float = 15.0,
    on_status: Callable[[str, int], None] | None = None,
    max_bytes: int = MAX_BYTES,
) -> Report:
    """Start a provisioning report of ``kinds``, wait for it and download it.

    Polls at ``first_poll`` seconds, growing by half each time up to ``max_poll``, through
    the client's limiter; ``on_status(status, progress)`` after each poll. Raises
    :class:`ReportError` when Canvas reports the job failed or it is not done within
    ``timeout`` seconds, and the client's errors (a token without ``read_reports``: 401).

    :calls: POST /api/v1/accounts/:account_id/reports/provisioning_csv,
        GET /api/v1/accounts/:account_id/reports/provisioning_csv/:id, GET /files/:id/download
    """
    sleep, clock = client.limiter.sleep, client.limiter.clock
    base = f"/api/v1/accounts/{segment(account)}/reports/provisioning_csv"
    form = [(f"parameters[{kind}]", "true") for kind in kinds]
    if include_deleted:
        form.append(("parameters[include_deleted]", "true"))
    started = clock()
    # a report is a read: a start whose answer was lost may be sent again (one more job, no harm)
    job = client.transport.request("POST", base, data=form, idempotent=True).data
    report_id = _id_of(job)
    delay, polls = first_poll, 0
    while str(job.get("status")) != DONE:
        status = str(job.get("status"))
        if status in FAILED:
            raise ReportError(f"Canvas's provisioning report {report_id} ended '{status}'{_said(job)}")
        if clock() - started > timeout:
            raise ReportError(
                f"Canvas's provisioning report {report_id} was not done after {timeout:.0f} s "
                f"(status '{status}', {job.get('progress') or 0}%); raise canvas.report_timeout or "
                "use --inventory courses"
            )
        sleep(delay)
        delay = min(max_poll, delay * 1.5)
        job = client.transport.request("GET", f"{base}/{report_id}").data
        polls += 1
        if on_status:
            on_status(str(job.get("status")), int(job.get("progress") or 0))
    url = ((job.get("attachment") or {}).get("url")) or job.get("file_url")
    if not url:
        raise ReportError(f"Canvas's provisioning report {report_id} is complete but has no file")
    data = client.transport.download(str(url), max_bytes=max_bytes)
    return Report(report_id, _files(data, kinds, report_id), polls=polls)


def _id_of(job: Any) -> int:
    try:
        return int(job["id"])
    except (TypeError, KeyError, ValueError):
        raise ReportError("Canvas's answer to starting a provisioning report has no report id") from None


def _said(job: dict[str, Any]) -> str:
    text = (job.get("parameters") or {}).get("extra_text") or job.get("message")
    return f": {' '.join(str(text).split())[:200]}" if text else ""


def _files(data: bytes, kinds: tuple[str, ...], report_id: int) -> dict[str, bytes]:
    """``{kind: CSV bytes}`` from a single CSV (one kind) or a zip of ``<kind>.csv`` members."""
    if not data.startswith(b"PK"):
        if len(kinds) != 1:
            raise ReportError(f"provisioning report {report_id}: expected a zip of {', '.join(kinds)}")
        return {kinds[0]: data}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ReportError(f"provisioning report {report_id}: not a readable zip ({exc})") from None
    with archive:
        declared = sum(info.file_size for info in archive.infolist())
        if declared > MAX_BYTES:
            raise ReportError(f"provisioning report {report_id}: its zip declares {declared:,} bytes")
        names = {info.filename.rsplit("/", 1)[-1]: info for info in archive.infolist() if not info.is_dir()}
        files = {}
        for kind in kinds:
            info = names.get(f"{kind}.csv")
            if info is None:
                raise ReportError(f"provisioning report {report_id}: its zip has no {kind}.csv")
            files[kind] = archive.read(info)
        return files


def _read_csv(data: bytes, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    text = data.decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportError(f"{what}: no column {', '.join(missing)} (it has {', '.join(frame.columns)})")
    return frame


def _ids(frame: pd.DataFrame, column: str, what: str, *, required: bool) -> pd.Series:
    text = frame[column].str.strip()
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce").astype("Int64")
    bad = (text != "") & numbers.isna()
    if required:
        bad |= text == ""
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ReportError(
            f"{what}, line {row + 2}, column {column}: not a Canvas id: {frame[column].iloc[row]!r}"
        )
    return numbers


def parse_enrollments(data: bytes, *, source: str) -> pd.DataFrame:
    """The enrollments CSV as :data:`frames.CURRENT_COLUMNS` (``course_ref`` empty, for the caller
    to fill) plus ``source`` and ``cannot_tell``; one row per report row (so per login).

    Raises :class:`ReportError` naming the line and column of anything it cannot read."""
    what = f"the enrollments of {source}"
    raw = _read_csv(data, ENROLLMENT_COLUMNS, what)
    states = raw["status"].str.strip().str.lower().map(STATES)
    if states.isna().any():
        row = int(states.isna().to_numpy().nonzero()[0][0])
        raise ReportError(
            f"{what}, line {row + 2}, column status: unknown status {raw['status'].iloc[row]!r}"
        )
    n = len(raw)

    def text(column: str) -> pd.Series:
        values = raw[column].str.strip()
        return values.where(values != "").astype("string")

    columns: dict[str, Any] = {
        "id": _ids(raw, "canvas_enrollment_id", what, required=True),
        "course_ref": pd.array([None] * n, dtype="string"),
        "course_id": _ids(raw, "canvas_course_id", what, required=True),
        "sis_course_id": text("course_id"),
        "course_section_id": _ids(raw, "canvas_section_id", what, required=True),
        "sis_section_id": text("section_id"),
        "user_id": _ids(raw, "canvas_user_id", what, required=True),
        "sis_user_id": text("user_id"),
        "type": text("base_role_type"),
        # built-in roles under their SIS words (student...), custom ones under their label
        "role": _role_names(text("role"), text("base_role_type")),
        "role_id": _ids(raw, "role_id", what, required=False),
        "state": states.astype("string"),
        "limit_privileges_to_course_section": raw["limit_section_privileges"]
        .str.strip()
        .str.lower()
        .eq("true"),
        "associated_user_id": _ids(raw, "canvas_associated_user_id", what, required=False),
        # the Enrollments API's sis_import_id is set exactly when created_by_sis is (its batch id
        # the report does not give: 0 stands for "some SIS import")
        "sis_import_id": raw["created_by_sis"].str.strip().str.lower().eq("true").map({True: 0, False: None}),
        "linked": pd.array([False] * n, dtype="boolean"),
        "last_attended_hidden": pd.array([True] * n, dtype="boolean"),  # unknown, not empty
    }
    frame = pd.DataFrame(index=range(n))
    for name, dtype in CURRENT_COLUMNS.items():
        if name in columns:
            frame[name] = pd.Series(columns[name], index=frame.index).astype(dtype)
        elif dtype == UTC_TS:
            frame[name] = pd.Series(pd.NaT, index=frame.index, dtype=UTC_TS)
        else:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    frame["source"] = pd.Series(source, index=frame.index, dtype="string")
    frame["cannot_tell"] = pd.Series(" ".join(CANNOT_TELL), index=frame.index, dtype="string")
    return frame


def _role_names(roles: pd.Series, types: pd.Series) -> pd.Series:
    """Role names as the Enrollments API gives them: ``student`` (a built-in role, whose type
    says so) is ``StudentEnrollment``; a custom role's label stays as it is."""
    named = roles.map(lambda word: ROLE_WORDS.get(word) if isinstance(word, str) else None).astype("string")
    built_in = named.notna() & (named == types)
    return named.where(built_in, roles).astype("string")


def parse_xlist(data: bytes, *, source: str) -> pd.DataFrame:
    """The cross-listings CSV: ``section_id`` (Canvas id), ``course_id`` (the course it is in
    now), ``nonxlist_course_id`` (the course it came from), ``state``."""
    what = f"the cross-listings of {source}"
    raw = _read_csv(data, XLIST_COLUMNS, what)
    return pd.DataFrame(
        {
            "section_id": _ids(raw, "canvas_section_id", what, required=True),
            "course_id": _ids(raw, "canvas_xlist_course_id", what, required=True),
            "nonxlist_course_id": _ids(raw, "canvas_nonxlist_course_id", what, required=True),
            "state": raw["status"].str.strip().astype("string"),
        }
    )


def parse_links(data: bytes, *, source: str) -> frozenset[tuple[int, int]]:
    """The observer links CSV (``user_observers``): the active (observer id, student id) pairs,
    once each (Canvas writes a row per login of either user)."""
    what = f"the observer links of {source}"
    raw = _read_csv(data, LINK_COLUMNS, what)
    observers = _ids(raw, "canvas_observer_id", what, required=True)
    students = _ids(raw, "canvas_student_id", what, required=True)
    active = (raw["status"].str.strip() == "active").to_numpy(dtype=bool)
    return frozenset(
        (int(o), int(s))
        for o, s, keep in zip(observers.tolist(), students.tolist(), active, strict=True)
        if keep
    )


def mark_linked(current: pd.DataFrame, links: frozenset[tuple[int, int]]) -> pd.DataFrame:
    """``current`` with ``linked`` set on the observer rows an active link keeps (facts §14.1),
    as :func:`reconcile.canvas.state.fetch_links` sets it from the Observees API."""
    if not links or current.empty:
        return current
    observer = (current["type"] == "ObserverEnrollment").fillna(False).to_numpy(dtype=bool)
    pairs = pd.MultiIndex.from_arrays(
        [
            current["user_id"].astype("Int64").fillna(-1).astype("int64"),
            current["associated_user_id"].astype("Int64").fillna(-1).astype("int64"),
        ]
    )
    linked = observer & pairs.isin(list(links))
    return current.assign(
        linked=pd.array(linked | current["linked"].fillna(False).to_numpy(dtype=bool), dtype="boolean")
    )
