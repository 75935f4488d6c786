"""The simulator's records: accounts, terms, courses, sections, users, roles, tokens, enrollments.

Reference data (everything but enrollments, progresses and account reports) is frozen.
Enrollment, Progress and AccountReport rows are mutable on purpose: the simulator is a database, Canvas mutates these
rows in place (a revival keeps the same id, facts §3.4), and copying a 100k-row table on
every write would make the simulator, not the client, the thing a benchmark measures.
Mutation happens only under the store's lock.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

UTC = dt.timezone.utc

ENROLLMENT_TYPES = (
    "StudentEnrollment",
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "ObserverEnrollment",
)
ALL_TYPES = (*ENROLLMENT_TYPES, "StudentViewEnrollment")
ADMIN_TYPES = frozenset({"TeacherEnrollment", "TaEnrollment", "DesignerEnrollment"})
WORKFLOW_STATES = ("active", "invited", "creation_pending", "inactive", "completed", "rejected", "deleted")

# Built-in course roles. Canvas creates them per root account; the simulator has one
# root account, so one fixed set of ids (Canvas's usual ids on a fresh install).
# Role 1 is the account-level AccountAdmin role: not a course role, so POSTing it
# gives "Invalid role" exactly as in Canvas.
BUILT_IN_ROLE_IDS = {
    "AccountAdmin": 1,
    "StudentEnrollment": 3,
    "TeacherEnrollment": 4,
    "TaEnrollment": 5,
    "DesignerEnrollment": 6,
    "ObserverEnrollment": 7,
}
# The test student ("Student View") has its own type but the student role.
BUILT_IN_ROLE_FOR_TYPE = {**BUILT_IN_ROLE_IDS, "StudentViewEnrollment": 3}


def now_utc() -> dt.datetime:
    """The wall clock in UTC, second precision (Canvas JSON shows whole seconds)."""
    return dt.datetime.now(UTC).replace(microsecond=0)


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 date or time as an aware UTC datetime; None for blank or unparseable input.

    Rails casts an unparseable time attribute to nil rather than failing, and so does this.
    A bare date means midnight UTC.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if not text:
        return None
    try:
        # Python 3.10's fromisoformat does not take a "Z" suffix.
        parsed = dt.datetime.fromisoformat(re.sub(r"(?:Z| UTC)$", "+00:00", text))
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: dt.datetime | None) -> str | None:
    """Canvas's JSON time form, ``2026-01-31T23:59:59Z`` (facts §6.4)."""
    if value is None:
        return None
    return _format_time(value)


@functools.lru_cache(maxsize=65536)
def _format_time(value: dt.datetime) -> str:
    # Lists render the same few timestamps over and over; strftime dominated page time.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SPACES = re.compile(r"\s+")


def collation_key(name: str) -> str:
    """A cheap stand-in for Canvas's Unicode collation of sortable names.

    Accents and case are ignored at the first level, as an ICU root collation does, so
    "Émile" sorts beside "Emile" rather than after "Zoe".
    """
    decomposed = unicodedata.normalize("NFKD", name)
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", base.casefold().strip())


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    sis_account_id: str | None = None
    integration_id: str | None = None
    parent_account_id: int | None = None


@dataclass(frozen=True, slots=True)
class Term:
    id: int
    name: str
    sis_term_id: str | None = None
    integration_id: str | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    created_at: dt.datetime | None = None


@dataclass(slots=True)
class Course:
    """A course. Mutable only for its workflow_state: created -> claimed when a teacher is
    enrolled (facts §3.3), deleted -> claimed when a section is moved back (§14.2)."""

    id: int
    name: str
    account_id: int
    course_code: str = ""
    sis_course_id: str | None = None
    integration_id: str | None = None
    enrollment_term_id: int | None = None
    workflow_state: str = "available"
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    restrict_enrollments_to_course_dates: bool = False
    self_enrollment_code: str | None = None
    uuid: str = ""


@dataclass(slots=True)
class Section:
    """A course section. ``course_id`` is where it is now; a cross-listed section keeps
    its original course in ``nonxlist_course_id`` (facts §14.2). Mutable only for
    cross-listing, which moves it (``Store.move_section``)."""

    id: int
    course_id: int
    name: str
    sis_section_id: str | None = None
    integration_id: str | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    restrict_enrollments_to_section_dates: bool = False
    default_section: bool = False
    workflow_state: str = "active"
    nonxlist_course_id: int | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    sortable_name: str
    short_name: str
    sis_user_id: str | None = None
    integration_id: str | None = None
    login_id: str | None = None
    workflow_state: str = "registered"
    uuid: str = ""
    created_at: dt.datetime | None = None
    collation: str = ""


@dataclass(frozen=True, slots=True)
class Pseudonym:
    """One login of a user in the root account (facts §12, §14.3). A user's own
    ``sis_user_id``/``integration_id``/``login_id`` are its first pseudonym; a seed may add
    more (a merged user, a re-issued student id). ``unique_id`` is the login id."""

    id: int
    user_id: int
    position: int
    unique_id: str | None = None
    sis_user_id: str | None = None
    integration_id: str | None = None
    workflow_state: str = "active"  # active | suspended | deleted

    @property
    def usable(self) -> bool:
        """A login that counts for enrolling (facts §3.2 step 8): not deleted, with a login
        or an SIS id."""
        return self.workflow_state != "deleted" and bool(self.unique_id or self.sis_user_id)


@dataclass(frozen=True, slots=True)
class Role:
    id: int
    label: str
    base_role_type: str
    workflow_state: str = "active"
    built_in: bool = False

    @property
    def is_course_role(self) -> bool:
        return self.base_role_type in ALL_TYPES

    @property
    def name(self) -> str:
        """The name enrollment JSON shows: the type for built-in roles, else the label."""
        return self.base_role_type if self.built_in else self.label


@dataclass(frozen=True, slots=True)
class Token:
    token: str
    user_id: int
    admin: bool = False


@dataclass(slots=True)
class Enrollment:
    """One row of Canvas's enrollments table (deleted rows are kept, soft-deleted)."""

    id: int
    user_id: int
    course_id: int
    course_section_id: int
    type: str
    role_id: int
    workflow_state: str
    root_account_id: int
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    associated_user_id: int | None = None
    limit_privileges_to_course_section: bool = False
    sis_import_id: int | None = None
    # The pseudonym an SIS import enrolled the user with (Canvas's sis_pseudonym_id); the API
    # always clears it (facts §3.4 step 4).
    sis_pseudonym_id: int | None = None
    last_activity_at: dt.datetime | None = None
    last_attended_at: dt.datetime | None = None
    total_activity_time: int = 0
    temporary_enrollment_source_user_id: int | None = None
    temporary_enrollment_pairing_id: int | None = None
    self_enrolled: bool | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None

    @property
    def unique_key(self) -> tuple[int, str, int, int, int | None]:
        """Canvas's unique index: (user, type, role, section, associated user) (facts §3.4)."""
        return (self.user_id, self.type, self.role_id, self.course_section_id, self.associated_user_id)


@dataclass(slots=True)
class ObserverLink:
    """A UserObservationLink (``user_observers``): ``observer_id`` observes ``student_id``.

    Soft-deleted like Canvas (workflow_state ``deleted``); creating the same link again
    restores the row (``create_or_restore``).
    """

    id: int
    observer_id: int
    student_id: int
    root_account_id: int
    workflow_state: str = "active"
    created_at: dt.datetime | None = None


def raw_enrollment(e: Enrollment) -> dict[str, Any]:
    """Every column of the row, times as Canvas JSON strings (the introspection view)."""
    row: dict[str, Any] = {}
    for name in Enrollment.__slots__:
        value = getattr(e, name)
        row[name] = format_time(value) if isinstance(value, dt.datetime) else value
    return row


@dataclass(slots=True)
class Progress:
    """A Canvas Progress (facts §4): queued -> running -> completed | failed."""

    id: int
    context_id: int
    user_id: int
    tag: str
    workflow_state: str = "queued"
    completion: float | None = 0.0
    message: str | None = None
    results: dict[str, Any] | None = None
    created_at: dt.datetime = field(default_factory=now_utc)
    updated_at: dt.datetime = field(default_factory=now_utc)


@dataclass(frozen=True, slots=True)
class ReportFile:
    """The attachment a finished account report made: its CSV bytes, kept in memory."""

    id: int
    account_id: int
    user_id: int
    uuid: str  # Canvas's attachment uuid, the ``verifier`` of its download URL
    filename: str
    content: bytes
    rows: int  # data rows, the header not counted
    created_at: dt.datetime
    content_type: str = "text/csv"  # application/zip when the report has several parts


@dataclass(slots=True)
class AccountReport:
    """An AccountReport (``provisioning_csv``): created -> running -> complete | error.

    Only ``created``, ``complete`` and ``error`` are stored; ``running`` is the time
    between ``queued_until`` and ``ready_at`` (monotonic seconds), so a poll costs no
    work (:mod:`reconcile.sim.api_reports`).
    """

    id: int
    account_id: int
    user_id: int
    report_type: str
    parameters: dict[str, Any] | None
    created_at: dt.datetime
    created_mono: float
    queued_until: float
    ready_at: float
    workflow_state: str = "created"
    ended_at: dt.datetime | None = None
    extra_text: str | None = None
    current_line: int | None = None
    file_id: int | None = None
