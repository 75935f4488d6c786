"""Canvas JSON parsed into the project's own frozen records.

Each ``from_json`` reads only the fields named here and ignores the rest, so a new
Canvas field never breaks parsing. Times are parsed as timezone-aware UTC datetimes
(Canvas renders them in UTC, facts §6.4); ids arrive as integers, or as strings under
``application/json+canvas-string-ids``, and become ``int`` either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 string from Canvas as an aware UTC datetime; None for null or empty.

    Raises ``ValueError`` for text that is not a date, so bad data is not silently dropped.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:  # Canvas never sends naive times; treat them as UTC rather than local
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


@dataclass(frozen=True)
class User:
    id: int
    name: str | None = None
    sortable_name: str | None = None
    short_name: str | None = None
    sis_user_id: str | None = None
    integration_id: str | None = None
    login_id: str | None = None

    @classmethod
    def from_json(cls, data: JSON) -> User:
        return cls(
            id=int(data["id"]),
            name=_str(data.get("name")),
            sortable_name=_str(data.get("sortable_name")),
            short_name=_str(data.get("short_name")),
            sis_user_id=_str(data.get("sis_user_id")),
            integration_id=_str(data.get("integration_id")),
            login_id=_str(data.get("login_id")),
        )


@dataclass(frozen=True)
class Enrollment:
    """One enrollment row. ``state`` is Canvas's raw ``enrollment_state`` (workflow_state)."""

    id: int
    course_id: int
    course_section_id: int | None
    user_id: int
    type: str
    role: str
    role_id: int | None
    state: str
    root_account_id: int | None = None
    associated_user_id: int | None = None
    limit_privileges_to_course_section: bool | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    last_attended_at: dt.datetime | None = None
    sis_import_id: int | None = None
    sis_course_id: str | None = None
    sis_section_id: str | None = None
    sis_user_id: str | None = None
    temporary_enrollment_source_user_id: int | None = None
    html_url: str | None = None
    user: User | None = None  # embedded in list responses only (facts §1.3)

    @classmethod
    def from_json(cls, data: JSON) -> Enrollment:
        user = data.get("user")
        return cls(
            id=int(data["id"]),
            course_id=int(data["course_id"]),
            course_section_id=_int(data.get("course_section_id")),
            user_id=int(data["user_id"]),
            type=str(data.get("type") or ""),
            role=str(data.get("role") or data.get("type") or ""),
            role_id=_int(data.get("role_id")),
            state=str(data.get("enrollment_state") or ""),
            root_account_id=_int(data.get("root_account_id")),
            associated_user_id=_int(data.get("associated_user_id")),
            limit_privileges_to_course_section=_bool(data.get("limit_privileges_to_course_section")),
            start_at=parse_time(data.get("start_at")),
            end_at=parse_time(data.get("end_at")),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            last_activity_at=parse_time(data.get("last_activity_at")),
            last_attended_at=parse_time(data.get("last_attended_at")),
            sis_import_id=_int(data.get("sis_import_id")),
            sis_course_id=_str(data.get("sis_course_id")),
            sis_section_id=_str(data.get("sis_section_id")),
            sis_user_id=_str(data.get("sis_user_id")),
            temporary_enrollment_source_user_id=_int(data.get("temporary_enrollment_source_user_id")),
            html_url=_str(data.get("html_url")),
            user=User.from_json(user) if isinstance(user, dict) else None,
        )


@dataclass(frozen=True)
class Course:
    id: int
    name: str | None = None
    course_code: str | None = None
    sis_course_id: str | None = None
    integration_id: str | None = None
    account_id: int | None = None
    root_account_id: int | None = None
    enrollment_term_id: int | None = None
    workflow_state: str | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None

    @property
    def ref(self) -> str:
        """The ref to fetch this course under: its SIS id when it has one, else its Canvas id."""
        return f"sis_course_id:{self.sis_course_id}" if self.sis_course_id else str(self.id)

    @classmethod
    def from_json(cls, data: JSON) -> Course:
        return cls(
            id=int(data["id"]),
            name=_str(data.get("name")),
            course_code=_str(data.get("course_code")),
            sis_course_id=_str(data.get("sis_course_id")),
            integration_id=_str(data.get("integration_id")),
            account_id=_int(data.get("account_id")),
            root_account_id=_int(data.get("root_account_id")),
            enrollment_term_id=_int(data.get("enrollment_term_id")),
            workflow_state=_str(data.get("workflow_state")),
            start_at=parse_time(data.get("start_at")),
            end_at=parse_time(data.get("end_at")),
        )


@dataclass(frozen=True)
class Section:
    """A course section as the Sections API shows it (``lib/api/v1/section.rb``): ``course_id``
    is where it is now, ``nonxlist_course_id`` its original course when cross-listed (facts §14.2)."""

    id: int
    course_id: int
    name: str | None = None
    sis_section_id: str | None = None
    integration_id: str | None = None
    nonxlist_course_id: int | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    restrict_enrollments_to_section_dates: bool | None = None
    sis_course_id: str | None = None  # of the course it is in now (SIS readers only)

    @classmethod
    def from_json(cls, data: JSON) -> Section:
        return cls(
            id=int(data["id"]),
            course_id=int(data["course_id"]),
            name=_str(data.get("name")),
            sis_section_id=_str(data.get("sis_section_id")),
            integration_id=_str(data.get("integration_id")),
            nonxlist_course_id=_int(data.get("nonxlist_course_id")),
            start_at=parse_time(data.get("start_at")),
            end_at=parse_time(data.get("end_at")),
            restrict_enrollments_to_section_dates=_bool(data.get("restrict_enrollments_to_section_dates")),
            sis_course_id=_str(data.get("sis_course_id")),
        )


PROGRESS_DONE = frozenset({"completed", "failed", "canceled"})


@dataclass(frozen=True)
class Progress:
    """An asynchronous job (bulk enrollment). ``results`` only once it is no longer pending."""

    id: int
    workflow_state: str
    completion: float | None = None
    tag: str | None = None
    message: str | None = None
    url: str | None = None
    context_id: int | None = None
    context_type: str | None = None
    user_id: int | None = None
    results: Any = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def done(self) -> bool:
        """True once the job reached a final state (completed, failed or canceled)."""
        return self.workflow_state in PROGRESS_DONE

    @classmethod
    def from_json(cls, data: JSON) -> Progress:
        completion = data.get("completion")
        return cls(
            id=int(data["id"]),
            workflow_state=str(data.get("workflow_state") or ""),
            completion=None if completion is None else float(completion),
            tag=_str(data.get("tag")),
            message=_str(data.get("message")),
            url=_str(data.get("url")),
            context_id=_int(data.get("context_id")),
            context_type=_str(data.get("context_type")),
            user_id=_int(data.get("user_id")),
            results=data.get("results"),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
        )


@dataclass(frozen=True)
class TemporaryEnrollmentStatus:
    is_provider: bool
    is_recipient: bool
    can_provide: bool

    @classmethod
    def from_json(cls, data: JSON) -> TemporaryEnrollmentStatus:
        return cls(
            is_provider=bool(data.get("is_provider")),
            is_recipient=bool(data.get("is_recipient")),
            can_provide=bool(data.get("can_provide")),
        )
