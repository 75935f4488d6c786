"""Current-state snapshots on disk: the JSON ``reconcile export --format json`` writes, and
Canvas's provisioning "enrollments" report CSV. Both read back as a ``CURRENT_COLUMNS``
frame, so ``plan --current SNAPSHOT`` can plan without calling Canvas.

JSON layout (``format_version`` 1)::

    {"format": "canvas-reconcile-snapshot", "format_version": 1,
     "exported_at": "...Z", "canvas_url": "https://...", "columns": {name: dtype},
     "enrollments": [{column: value, ...}, ...]}

Times are ISO 8601 UTC with microseconds (lossless, so fingerprints of a snapshot and of
the live rows it came from agree); missing values are ``null``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import IO, Any

import pandas as pd

from reconcile.frames import CURRENT_COLUMNS, ROLE_WORDS, conform

FORMAT = "canvas-reconcile-snapshot"
FORMAT_VERSION = 1

# Canvas's provisioning report says "concluded" for completed and folds
# creation_pending into "invited" (account_reports' enrollment query).
REPORT_STATUS = {
    "active": "active",
    "invited": "invited",
    "creation_pending": "creation_pending",
    "concluded": "completed",
    "completed": "completed",
    "inactive": "inactive",
    "deleted": "deleted",
    "rejected": "rejected",
}
REPORT_REQUIRED = ("canvas_course_id", "canvas_user_id", "status")


class SnapshotError(ValueError):
    """The file is not a snapshot this version can read; the message says why."""


def write_snapshot(
    frame: pd.DataFrame,
    fileobj: IO[str] | IO[bytes],
    *,
    canvas_url: str | None = None,
    exported_at: dt.datetime | None = None,
) -> None:
    """Write ``frame`` (CURRENT_COLUMNS) as snapshot JSON to a text or binary file object."""
    rows = conform(frame, CURRENT_COLUMNS).reset_index(drop=True)
    stamp = (exported_at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "canvas_url": canvas_url,
        "columns": CURRENT_COLUMNS,
    }
    body = rows.to_json(orient="records", date_format="iso", date_unit="us") if len(rows) else "[]"
    text = json.dumps(header, indent=1)[:-2] + ',\n "enrollments": ' + body + "\n}\n"
    target: Any = fileobj
    if isinstance(fileobj, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(fileobj, "mode", ""):
        target.write(text.encode("utf-8"))
    else:
        target.write(text)


def read_snapshot(path: str | Path) -> pd.DataFrame:
    """A CURRENT_COLUMNS frame from snapshot JSON or a provisioning-report enrollments CSV.

    The kind is detected from the content. Raises :class:`SnapshotError` for an unknown
    format, an unsupported ``format_version`` or a CSV without the report's columns.
    """
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8-sig")
    if text.lstrip().startswith("{"):
        return _from_json(text, str(path))
    return read_report_csv(io.StringIO(text), name=str(path))


def _from_json(text: str, name: str) -> pd.DataFrame:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"{name}: not a canvas-reconcile snapshot")
    if data.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"{name}: snapshot format_version {data.get('format_version')!r} is not supported"
        )
    rows = data.get("enrollments")
    if not isinstance(rows, list):
        raise SnapshotError(f"{name}: 'enrollments' must be a list")
    frame = pd.DataFrame.from_records(rows, columns=list(CURRENT_COLUMNS)) if rows else pd.DataFrame()
    try:
        return conform(frame, CURRENT_COLUMNS)
    except (ValueError, TypeError) as exc:
        raise SnapshotError(f"{name}: a value does not fit its column ({exc})") from None


def read_report_csv(fileobj: IO[str], *, name: str = "report") -> pd.DataFrame:
    """Canvas's provisioning "enrollments" report as a CURRENT_COLUMNS frame.

    Report columns: canvas_course_id, course_id, canvas_user_id, user_id, role, role_id,
    canvas_section_id, section_id, status, canvas_associated_user_id,
    associated_user_id, created_by_sis, base_role_type, limit_section_privileges,
    canvas_enrollment_id (optional start_date, end_date, root_account). ``course_ref`` is
    the SIS course id when there is one. The report does not carry the import batch, so
    ``created_by_sis=true`` is recorded as ``sis_import_id = 0`` ("some SIS import").
    """
    reader = csv.DictReader(fileobj)
    fields = {f.strip() for f in reader.fieldnames or []}
    missing = [c for c in REPORT_REQUIRED if c not in fields]
    if missing:
        raise SnapshotError(f"{name}: not an enrollments provisioning report (missing {', '.join(missing)})")
    columns: dict[str, list[Any]] = {c: [] for c in CURRENT_COLUMNS}
    for line, row in enumerate(reader, start=2):
        get = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}.get
        status = (get("status") or "").lower()
        if status not in REPORT_STATUS:
            raise SnapshotError(f"{name}:{line}: unknown status {status!r}")
        base = get("base_role_type") or None
        role = get("role") or base
        builtin = ROLE_WORDS.get((role or "").lower())
        if builtin and base in (None, builtin):  # "student" is the built-in role, not a custom label
            role = builtin
        sis_course = get("course_id") or None
        created_by_sis = (get("created_by_sis") or "").lower() == "true"
        values = {
            "id": get("canvas_enrollment_id") or None,
            "course_ref": f"sis_course_id:{sis_course}" if sis_course else get("canvas_course_id"),
            "course_id": get("canvas_course_id") or None,
            "sis_course_id": sis_course,
            "course_section_id": get("canvas_section_id") or None,
            "sis_section_id": get("section_id") or None,
            "user_id": get("canvas_user_id") or None,
            "sis_user_id": get("user_id") or None,
            "type": base,
            "role": role,
            "role_id": get("role_id") or None,
            "state": REPORT_STATUS[status],
            "start_at": get("start_date") or None,
            "end_at": get("end_date") or None,
            "limit_privileges_to_course_section": _bool(get("limit_section_privileges")),
            "associated_user_id": get("canvas_associated_user_id") or None,
            "sis_import_id": 0 if created_by_sis else None,
        }
        for column in columns:
            columns[column].append(values.get(column))
    frame = pd.DataFrame({c: pd.Series(v, dtype="object") for c, v in columns.items()})
    try:
        for column in ("id", "course_id", "course_section_id", "user_id", "role_id", "associated_user_id"):
            frame[column] = pd.array([None if v is None else int(v) for v in frame[column]], dtype="Int64")
        return conform(frame, CURRENT_COLUMNS)
    except (ValueError, TypeError) as exc:
        raise SnapshotError(f"{name}: a value does not fit its column ({exc})") from None


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in {"true", "1", "yes"}
