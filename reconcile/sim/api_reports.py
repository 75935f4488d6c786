"""The Account Reports API for the provisioning report, and the download of its file
(facts §14.6; canvas-lms ``app/controllers/account_reports_controller.rb``,
``lib/api/v1/account_report.rb``, ``lib/api/v1/attachment.rb``,
``gems/plugins/account_reports/lib/account_reports.rb``).

- ``POST /api/v1/accounts/:account_id/reports/provisioning_csv`` (``parameters[...]``, form or
  JSON): needs ``read_reports`` on the account; answers the new report, ``status``
  ``created``, ``progress`` 0. Its job then runs: ``running`` after a quarter of the
  simulator's ``report_delay_s``, ``complete`` (progress 100, ``attachment``, ``file_url``)
  once it has passed. The CSV is a snapshot of the moment the job finishes: Canvas reads
  the tables while the job runs, long after the POST, so writes made while a report is
  queued or running may or may not be in it; the simulator takes the latest moment.
- The job fails (``status`` ``error``, progress 100, no file, ``extra_text`` "Failed, the
  report failed to generate a file. Please try again.") when no report part is asked for,
  or when ``enrollment_term_id`` names no term: Canvas finds the term only inside the job.
  Asking for parts other than ``enrollments``, ``xlist`` and ``user_observers`` (users,
  courses, ...) is refused with 400: the simulator models those three only. One part makes a CSV; several a zip of
  ``<part>.csv`` members (``SisExporter#send_report``).
- Once running, ``parameters`` carry Canvas's ``extra_text`` ("Term: All Terms; Reports:
  enrollments "). ``progress`` stays 0 while running: Canvas only computes a percentage for
  reports that know their total line count, which this one never sets; ``current_line``
  is null until the end, then the number of lines written (header included).
- ``GET /api/v1/accounts/:account_id/reports/provisioning_csv/:id``: the report, among that
  account's; a poll only compares clocks (the file is made once, by a timer or by the
  first poll after it is due).
- ``GET /files/:id/download`` (the attachment's ``url``, with ``download_frd=1`` and the
  file's ``verifier``) and ``GET /accounts/:account_id/files/:id/download`` (the report's
  ``file_url``): the CSV bytes, ``text/csv``. The simulator wants a token here as
  everywhere (Canvas would also accept the verifier alone) and answers 404 to a verifier
  that is present but wrong (Canvas ignores it for a caller who may read the file).
  Like a Canvas on local file storage, the bytes come straight back; a hosted Canvas
  redirects to its file store first.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
import string
import threading
import time
import zipfile
from collections.abc import Callable
from typing import Any

from reconcile.sim import errors
from reconcile.sim.auth import account_rights
from reconcile.sim.context import Request, Response
from reconcile.sim.model import Account, AccountReport, ReportFile, format_time
from reconcile.sim.params import as_list, is_blank, value_to_boolean
from reconcile.sim.provisioning import Scope, enrollments_csv, user_observers_csv, xlist_csv
from reconcile.sim.store import Store

REPORT_TYPE = "provisioning_csv"
# The parts the simulator makes (the rest of SIS_CSV_REPORTS is refused with 400).
MODELLED: dict[str, Callable[[Store, Scope], tuple[bytes, int]]] = {
    "enrollments": enrollments_csv,
    "xlist": xlist_csv,
    "user_observers": user_observers_csv,
}
# The parts an SIS export / provisioning report can hold (SisExporter::SIS_CSV_REPORTS).
PARTS = (
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
)
VALID_TYPES = (
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "StudentEnrollment",
    "ObserverEnrollment",
)
VALID_STATES = ("invited", "creation_pending", "active", "completed", "inactive", "deleted", "rejected")
QUEUED_SHARE = 0.25  # the part of the delay a report spends queued (status "created")
FAILED_TEXT = "Failed, the report failed to generate a file. Please try again."
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UUID_CHARS = string.ascii_letters + string.digits

# The clock of every report's timeline, in seconds (monotonic); tests may replace it to walk
# a report through its states without waiting.
clock: Callable[[], float] = time.monotonic


def _account(req: Request) -> Account:
    account = req.store.find_account(req.path_params["account_id"])
    if account is None:
        raise errors.not_found()
    return account


def _require_read_reports(req: Request) -> None:
    if not account_rights(req.store, req.caller).read_reports:
        raise req.deny()


def _id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 19 else None


def _requested(parameters: dict[str, Any] | None) -> list[str]:
    """The parts asked for: ``SIS_CSV_REPORTS & parameters.select { value_to_boolean(v) }.keys``."""
    if not parameters:
        return []
    return [part for part in PARTS if value_to_boolean(parameters.get(part))]


def _value_to_array(value: Any) -> list[str]:
    """``Api.value_to_array``: a list as it is, a string split on commas."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")]
    return [str(v) for v in as_list(value)]


def _to_sentence(words: list[str]) -> str:
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + ", and " + words[-1]


def _scope(store: Store, report: AccountReport) -> tuple[Scope, str] | None:
    """The report's scope and ``extra_text`` as its job sees them; None when the job fails."""
    params = report.parameters or {}
    parts = _requested(report.parameters)
    if not parts or set(parts) - set(MODELLED):
        return None
    term_ref = next(
        (params[key] for key in ("enrollment_term_id", "enrollment_term") if not is_blank(params.get(key))),
        None,
    )
    term = store.find_term(str(term_ref)) if term_ref is not None else None
    if term_ref is not None and term is None:
        return None
    text = f"Term: {term.name if term is not None else 'All Terms'};"
    include_deleted = bool(value_to_boolean(params.get("include_deleted")))
    if include_deleted:
        text += " Include Deleted Objects;"
    types = states = None
    if not is_blank(params.get("enrollment_filter")):
        asked = set(_value_to_array(params["enrollment_filter"]))
        wanted = [t for t in VALID_TYPES if t in asked]
        types = frozenset(wanted)
        text += f" Include Enrollment Roles: {_to_sentence(wanted)};"
    if not is_blank(params.get("enrollment_states")):
        asked = set(_value_to_array(params["enrollment_states"]))
        wanted = [s for s in VALID_STATES if s in asked]
        states = frozenset(wanted)
        text += f" Include Enrollment States: {_to_sentence(wanted)};"
    text += f" Reports: {' '.join(parts)} "
    scope = Scope(
        account_id=report.account_id,
        include_deleted=include_deleted,
        term_id=term.id if term is not None else None,
        # Ruby truthiness of the raw value: any value but null or false filters
        created_by_sis=params.get("created_by_sis") not in (None, False),
        types=types,
        states=states,
    )
    return scope, text


def _moment(report: AccountReport, mono: float) -> dt.datetime:
    """The simulated time at monotonic instant ``mono`` of the report's life."""
    return report.created_at + dt.timedelta(seconds=mono - report.created_mono)


def _base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def _file_name(report: AccountReport, now: dt.datetime, *, zipped: bool = False) -> str:
    """``generate_file_name`` inside a Ruby Tempfile name: prefix, date, pid, random, ``.csv``
    (``.zip`` for several parts)."""
    prefix = f"{report.report_type}_{now.day:02d}_{_MONTHS[now.month - 1]}_{now.year}_{report.id}"
    extension = "zip" if zipped else "csv"
    return f"{prefix}{now:%Y%m%d}-{os.getpid()}-{_base36(secrets.randbelow(0x100000000))}.{extension}"


def _advance(store: Store, report: AccountReport, mono: float) -> None:
    """Bring a created report to where time says it is: failed once its job started, or
    complete (with its file, a snapshot taken now) once it is due. Under the store lock."""
    if report.workflow_state != "created" or mono < report.queued_until:
        return
    scoped = _scope(store, report)
    if scoped is None:
        report.workflow_state = "error"
        report.extra_text = FAILED_TEXT
        report.ended_at = _moment(report, report.queued_until)
        return
    if mono < report.ready_at:
        return
    scope, text = scoped
    parts = _requested(report.parameters)
    made = {part: MODELLED[part](store, scope) for part in parts}
    content_type = "text/csv"
    if len(made) == 1:
        content, rows = next(iter(made.values()))
    else:  # SisExporter#send_report: several parts go out as a zip of <part>.csv
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for part, (data, _) in made.items():
                archive.writestr(f"{part}.csv", data)
        content, rows = buffer.getvalue(), sum(n for _, n in made.values())
        content_type = "application/zip"
    now = store.now()
    uuid = "".join(secrets.choice(_UUID_CHARS) for _ in range(40))
    file = ReportFile(
        id=store.new_id("attachment"),
        account_id=report.account_id,
        user_id=report.user_id,
        uuid=uuid,
        filename=_file_name(report, now, zipped=content_type != "text/csv"),
        content=content,
        rows=rows,
        created_at=now,
        content_type=content_type,
    )
    store.report_files[file.id] = file
    report.file_id = file.id
    report.workflow_state = "complete"
    report.extra_text = text
    report.current_line = rows + 1
    report.ended_at = now


def _finish_when_due(store: Store, report_id: int) -> None:
    with store.lock:
        report = store.reports.get(report_id)
        if report is not None:
            _advance(store, report, max(clock(), report.ready_at))


def _download_url(file: ReportFile, base_url: str) -> str:
    return f"{base_url}/files/{file.id}/download?download_frd=1&verifier={file.uuid}"


def attachment_json(file: ReportFile, base_url: str) -> dict[str, Any]:
    """``attachment_json`` of the report's file (``lib/api/v1/attachment.rb``)."""
    created = format_time(file.created_at)
    return {
        "id": file.id,
        "uuid": file.uuid,
        "folder_id": None,
        "display_name": file.filename,
        "filename": file.filename,
        "workflow_state": "processed",
        "upload_status": "success",
        "content-type": "text/csv",
        "url": _download_url(file, base_url),
        "size": len(file.content),
        "created_at": created,
        "updated_at": created,
        "unlock_at": None,
        "locked": False,
        "hidden": False,
        "lock_at": None,
        "hidden_for_user": False,
        "thumbnail_url": None,
        "modified_at": created,
        "mime_class": "file",
        "media_entry_id": None,
        "locked_for_user": False,
    }


def report_json(store: Store, report: AccountReport, base_url: str, mono: float) -> dict[str, Any]:
    """``account_report_json``: ``attachment`` only once there is a file."""
    status = report.workflow_state
    if status == "created" and mono > report.queued_until:
        status = "running"
    parameters = report.parameters
    if status != "created":
        text = report.extra_text
        if text is None:
            scoped = _scope(store, report)
            text = scoped[1] if scoped is not None else FAILED_TEXT
        parameters = {**(parameters or {}), "extra_text": text}
    file = store.report_files.get(report.file_id) if report.file_id is not None else None
    body: dict[str, Any] = {
        "id": report.id,
        "progress": 100 if status in ("complete", "error") else 0,
        "parameters": parameters,
        "current_line": report.current_line,
        "status": status,
        "report": report.report_type,
        "created_at": format_time(report.created_at),
        "started_at": None if status == "created" else format_time(_moment(report, report.queued_until)),
        "ended_at": format_time(report.ended_at),
        "file_url": None
        if file is None
        else f"{base_url}/accounts/{report.account_id}/files/{file.id}/download",
    }
    if file is not None:
        body["attachment"] = attachment_json(file, base_url)
    return body


def start(req: Request) -> Response:
    """POST /accounts/:id/reports/provisioning_csv: queue the report's job."""
    store = req.store
    account = _account(req)
    _require_read_reports(req)
    raw = req.params.get("parameters")
    parameters = dict(raw) if isinstance(raw, dict) else None
    others = [part for part in _requested(parameters) if part not in MODELLED]
    if others:
        raise errors.message(
            "the simulator's provisioning report has enrollments, xlist and user_observers parts only, "
            f"not {', '.join(others)}"
        )
    delay = max(0.0, float(req.report_delay_s))
    mono = clock()
    report = AccountReport(
        id=store.new_id("report"),
        account_id=account.id,
        user_id=req.caller.user_id,
        report_type=REPORT_TYPE,
        parameters=parameters,
        created_at=store.now(),
        created_mono=mono,
        queued_until=mono + delay * QUEUED_SHARE,
        ready_at=mono + delay,
    )
    store.reports[report.id] = report
    body = report_json(store, report, req.base_url, mono)
    if delay == 0:
        _advance(store, report, mono)  # the job has run by the time anyone polls
    else:
        timer = threading.Timer(delay, _finish_when_due, args=(store, report.id))
        timer.daemon = True
        timer.start()
    return Response(body)


def show(req: Request) -> Response:
    """GET /accounts/:id/reports/provisioning_csv/:id: the report as time has made it."""
    store = req.store
    account = _account(req)
    _require_read_reports(req)
    report_id = _id(req.path_params["id"])
    report = store.reports.get(report_id) if report_id is not None else None
    if report is None or report.account_id != account.id or report.report_type != REPORT_TYPE:
        raise errors.not_found()
    mono = clock()
    _advance(store, report, mono)
    return Response(report_json(store, report, req.base_url, mono))


def _file(req: Request) -> ReportFile:
    file_id = _id(req.path_params["id"])
    file = req.store.report_files.get(file_id) if file_id is not None else None
    if file is None:
        raise errors.not_found()
    verifier = req.query.get("verifier")
    if not is_blank(verifier) and verifier != file.uuid:
        raise errors.not_found()
    if file.user_id != req.caller.user_id and not account_rights(req.store, req.caller).read_reports:
        raise req.deny()
    return file


def _csv(file: ReportFile) -> Response:
    return Response(
        None,
        raw=file.content,
        content_type=file.content_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
        items=file.rows,
    )


def download(req: Request) -> Response:
    """GET /files/:id/download: the report's CSV (the attachment's ``url``)."""
    return _csv(_file(req))


def download_in_account(req: Request) -> Response:
    """GET /accounts/:account_id/files/:id/download: the same bytes (the report's ``file_url``)."""
    account = _account(req)
    file = _file(req)
    if file.account_id != account.id:
        raise errors.not_found()
    return _csv(file)
