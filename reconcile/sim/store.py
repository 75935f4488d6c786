"""The simulator's in-memory database: records, indexes and Canvas-style id lookups.

Enrollments are indexed by unique key (for the upsert) and kept in sorted lists per
course, section and user in Canvas's list order (type, sortable name, id; facts §1.3),
so a page is a bisect plus a short scan. Callers hold :attr:`Store.lock` around any
read that must be consistent and around every write.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

from reconcile.sim.model import (
    BUILT_IN_ROLE_IDS,
    Account,
    AccountReport,
    Course,
    Enrollment,
    ObserverLink,
    Progress,
    Pseudonym,
    ReportFile,
    Role,
    Section,
    Term,
    Token,
    User,
    now_utc,
)

SortKey = tuple[str, str, int]
_MAX_ID = 10**19 - 1

# id-column prefixes accepted per object type (facts §9); value = attribute looked up.
COURSE_COLUMNS = {"sis_course_id": "sis", "sis_integration_id": "integration", "uuid": "uuid"}
SECTION_COLUMNS = {"sis_section_id": "sis", "sis_integration_id": "integration"}
USER_COLUMNS = {
    "sis_user_id": "sis",
    "sis_login_id": "login",
    "sis_integration_id": "integration",
    "uuid": "uuid",
}
ACCOUNT_COLUMNS = {"sis_account_id": "sis", "sis_integration_id": "integration"}
TERM_COLUMNS = {"sis_term_id": "sis", "sis_integration_id": "integration"}


def parse_ref(ref: str, columns: dict[str, str]) -> tuple[str, str] | None:
    """Split a Canvas id (facts §9) into (kind, value): kind is ``id`` or a value of ``columns``.

    Returns None for a form Canvas would not find anything with (unknown column, bad hex,
    a number too long).
    """
    text = ref.strip()
    if text.isdigit():
        return ("id", str(int(text))) if len(text) <= 19 and text.isascii() else None
    if text.startswith("hex:"):
        column, _, hexed = text[4:].partition(":")
        if column not in columns:
            return None
        try:
            return columns[column], bytes.fromhex(hexed).decode("utf-8")
        except ValueError:
            return None
    column, sep, value = text.partition(":")
    if sep and column in columns and value:
        return columns[column], value
    return None


class Store:
    """All simulator state. Build one with :func:`reconcile.sim.seed.build_store`."""

    def __init__(self, *, clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.accounts: dict[int, Account] = {}
        self.terms: dict[int, Term] = {}
        self.courses: dict[int, Course] = {}
        self.sections: dict[int, Section] = {}
        self.users: dict[int, User] = {}
        self.roles: dict[int, Role] = {}
        self.tokens: dict[str, Token] = {}
        self.enrollments: dict[int, Enrollment] = {}
        self.progresses: dict[int, Progress] = {}
        self.reports: dict[int, AccountReport] = {}
        self.report_files: dict[int, ReportFile] = {}
        self.root_account_id = 0
        self.course_sections: dict[int, list[int]] = {}
        self.default_sections: dict[int, int] = {}
        self.by_key: dict[tuple[int, str, int, int, int | None], int] = {}
        self.course_index: dict[int, list[SortKey]] = {}
        self.section_index: dict[int, list[SortKey]] = {}
        self.user_index: dict[int, list[SortKey]] = {}
        self.user_courses: dict[int, set[int]] = {}
        self._lookup: dict[tuple[str, str, str], int] = {}
        # every user's pseudonyms in position order; the first one holds the user's own ids
        self.pseudonyms: dict[int, tuple[Pseudonym, ...]] = {}
        self.pseudonym_by_id: dict[int, Pseudonym] = {}
        self.several_logins: set[int] = set()  # users with more than one pseudonym
        self.links: dict[int, ObserverLink] = {}
        self.links_of_student: dict[int, list[int]] = {}
        self.links_of_observer: dict[int, list[int]] = {}
        self.next_ids: dict[str, int] = {
            "enrollment": 1,
            "progress": 1,
            "section": 1,
            "link": 1,
            "pseudonym": 1,
            "report": 1,
            "attachment": 1,
        }
        # (role id, permission) -> enabled: the seed's role overrides (permissions.py)
        self.role_overrides: dict[tuple[int, str], bool] = {}
        # values derived once from data that never changes after loading (auth.admin_rights)
        self.memo: dict[str, Any] = {}
        # Encoded enrollment JSON by row content and view (see render.enrollment_fragment).
        self.json_cache: dict[tuple[Any, ...], str] = {}

    # -- DateSource protocol -------------------------------------------------
    def course(self, course_id: int) -> Course:
        return self.courses[course_id]

    def section(self, section_id: int) -> Section:
        return self.sections[section_id]

    def term(self, term_id: int | None) -> Term | None:
        return self.terms.get(term_id) if term_id is not None else None

    def now(self) -> dt.datetime:
        return self.clock()

    # -- building ------------------------------------------------------------
    def _index(self, kind: str, column: str, value: str | None, obj_id: int) -> None:
        if value:
            self._lookup[(kind, column, value.casefold() if column == "login" else value)] = obj_id

    def add_account(self, account: Account) -> None:
        if not self.accounts:
            self.root_account_id = account.id
        self.accounts[account.id] = account
        self._index("account", "sis", account.sis_account_id, account.id)
        self._index("account", "integration", account.integration_id, account.id)

    def add_term(self, term: Term) -> None:
        self.terms[term.id] = term
        self._index("term", "sis", term.sis_term_id, term.id)
        self._index("term", "integration", term.integration_id, term.id)

    def add_course(self, course: Course) -> None:
        self.courses[course.id] = course
        self.course_sections.setdefault(course.id, [])
        self.course_index.setdefault(course.id, [])
        self._index("course", "sis", course.sis_course_id, course.id)
        self._index("course", "integration", course.integration_id, course.id)
        self._index("course", "uuid", course.uuid, course.id)

    def add_section(self, section: Section) -> None:
        self.sections[section.id] = section
        self.course_sections.setdefault(section.course_id, []).append(section.id)
        self.section_index.setdefault(section.id, [])
        if section.default_section:
            self.default_sections[section.course_id] = section.id
        self._index("section", "sis", section.sis_section_id, section.id)
        self._index("section", "integration", section.integration_id, section.id)
        self.next_ids["section"] = max(self.next_ids["section"], section.id + 1)

    def add_user(
        self, user: User, extra_pseudonyms: tuple[dict[str, Any], ...] = ()
    ) -> list[tuple[int, str, str, int]]:
        """Add a user; its own ids become its first pseudonym, ``extra_pseudonyms`` (dicts
        with login_id, sis_user_id, integration_id, workflow_state) the following ones.

        Returns the clashes with other users' live logins, as (position, column, value,
        owner): Canvas's unique indexes allow an SIS id, integration id or login id (any
        case) on one user of the root account only. The first owner keeps the id.
        """
        self.users[user.id] = user
        self.user_index.setdefault(user.id, [])
        self._index("user", "uuid", user.uuid, user.id)
        made: list[Pseudonym] = []
        if user.sis_user_id or user.integration_id or user.login_id:
            made.append(
                Pseudonym(
                    id=self.new_id("pseudonym"),
                    user_id=user.id,
                    position=1,
                    unique_id=user.login_id,
                    sis_user_id=user.sis_user_id,
                    integration_id=user.integration_id,
                )
            )
        for login in extra_pseudonyms:
            made.append(
                Pseudonym(
                    id=self.new_id("pseudonym"),
                    user_id=user.id,
                    position=len(made) + 1,
                    unique_id=login.get("login_id"),
                    sis_user_id=login.get("sis_user_id"),
                    integration_id=login.get("integration_id"),
                    workflow_state=login.get("workflow_state", "active"),
                )
            )
        clashes: list[tuple[int, str, str, int]] = []
        lookup = self._lookup
        for pseudonym in made:
            self.pseudonym_by_id[pseudonym.id] = pseudonym
            if pseudonym.workflow_state == "deleted":
                continue  # lookups go through live logins only (has_one :pseudonym is active ones)
            for column, value in (
                ("sis", pseudonym.sis_user_id),
                ("integration", pseudonym.integration_id),
                ("login", pseudonym.unique_id.casefold() if pseudonym.unique_id else None),
            ):
                if value:
                    owner = lookup.setdefault(("user", column, value), user.id)
                    if owner != user.id:
                        clashes.append((pseudonym.position, column, value, owner))
        self.pseudonyms[user.id] = tuple(made)
        if len(made) > 1:
            self.several_logins.add(user.id)
        return clashes

    def add_role(self, role: Role) -> None:
        self.roles[role.id] = role

    def add_token(self, token: Token) -> None:
        self.tokens[token.token] = token

    def sort_key(self, enrollment: Enrollment) -> SortKey:
        return (enrollment.type, self.users[enrollment.user_id].collation, enrollment.id)

    def insert_enrollment(self, enrollment: Enrollment, *, presorted: bool = False) -> None:
        """Add a row to the table and every index. ``presorted`` skips bisecting (bulk load)."""
        self.enrollments[enrollment.id] = enrollment
        self.by_key[enrollment.unique_key] = enrollment.id
        key = self.sort_key(enrollment)
        for index, owner in (
            (self.course_index, enrollment.course_id),
            (self.section_index, enrollment.course_section_id),
            (self.user_index, enrollment.user_id),
        ):
            rows = index.setdefault(owner, [])
            if presorted:
                rows.append(key)
            else:
                bisect.insort(rows, key)
        self.user_courses.setdefault(enrollment.user_id, set()).add(enrollment.course_id)
        self.next_ids["enrollment"] = max(self.next_ids["enrollment"], enrollment.id + 1)

    def relocate_enrollment(self, enrollment: Enrollment, course_id: int, section_id: int) -> None:
        """Move one row to another section (and course), keeping every index right."""
        if (enrollment.course_id, enrollment.course_section_id) == (course_id, section_id):
            return
        key = self.sort_key(enrollment)
        old_course, old_section = enrollment.course_id, enrollment.course_section_id
        if self.by_key.get(enrollment.unique_key) == enrollment.id:
            del self.by_key[enrollment.unique_key]
        for index, owner in ((self.course_index, old_course), (self.section_index, old_section)):
            rows = index[owner]
            del rows[bisect.bisect_left(rows, key)]
        enrollment.course_id, enrollment.course_section_id = course_id, section_id
        self.by_key[enrollment.unique_key] = enrollment.id
        bisect.insort(self.course_index.setdefault(course_id, []), key)
        bisect.insort(self.section_index.setdefault(section_id, []), key)
        self.user_courses[enrollment.user_id] = {
            self.enrollments[k[2]].course_id for k in self.user_index[enrollment.user_id]
        }

    def add_link(self, link: ObserverLink) -> None:
        self.links[link.id] = link
        self.links_of_student.setdefault(link.student_id, []).append(link.id)
        self.links_of_observer.setdefault(link.observer_id, []).append(link.id)
        self.next_ids["link"] = max(self.next_ids["link"], link.id + 1)

    def link_between(self, observer_id: int, student_id: int) -> ObserverLink | None:
        """The link row of this pair, active or deleted (one per pair and root account)."""
        for link_id in self.links_of_observer.get(observer_id, ()):
            link = self.links[link_id]
            if link.student_id == student_id:
                return link
        return None

    def linked_observers(self, student_id: int, *, deleted_users: bool = False) -> list[User]:
        """``user.linked_observers``: the observers of an active link (``.active``, the default
        here, leaves out deleted observer users as ``Enrollment#observers`` does)."""
        found: list[User] = []
        for link_id in self.links_of_student.get(student_id, ()):
            link = self.links[link_id]
            observer = self.users.get(link.observer_id)
            if link.workflow_state == "deleted" or observer is None or observer in found:
                continue
            if deleted_users or observer.workflow_state != "deleted":
                found.append(observer)
        return found

    def linked_students(self, observer_id: int) -> list[User]:
        """``user.linked_students``: the users an active link says this user observes."""
        found: list[User] = []
        for link_id in self.links_of_observer.get(observer_id, ()):
            link = self.links[link_id]
            student = self.users.get(link.student_id)
            if link.workflow_state != "deleted" and student is not None and student not in found:
                found.append(student)
        return found

    def sort_indexes(self) -> None:
        """Sort every index once after a bulk load with ``presorted=True``."""
        for index in (self.course_index, self.section_index, self.user_index):
            for rows in index.values():
                rows.sort()

    def new_id(self, kind: str) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value

    # -- Canvas id lookups (facts §9) ------------------------------------------
    def _find(self, kind: str, ref: str, columns: dict[str, str], table: dict[int, Any]) -> int | None:
        parsed = parse_ref(ref, columns)
        if parsed is None:
            return None
        column, value = parsed
        if column == "id":
            number = int(value)
            return number if number <= _MAX_ID and number in table else None
        return self._lookup.get((kind, column, value.casefold() if column == "login" else value))

    def find_course(self, ref: str) -> Course | None:
        found = self._find("course", ref, COURSE_COLUMNS, self.courses)
        return self.courses[found] if found is not None else None

    def find_section(self, ref: str) -> Section | None:
        found = self._find("section", ref, SECTION_COLUMNS, self.sections)
        return self.sections[found] if found is not None else None

    def find_user(self, ref: str, *, caller_id: int | None = None) -> User | None:
        if ref.strip() == "self":
            return self.users.get(caller_id) if caller_id is not None else None
        found = self._find("user", ref, USER_COLUMNS, self.users)
        return self.users[found] if found is not None else None

    def find_account(self, ref: str) -> Account | None:
        if ref.strip() in ("self", "default"):
            return self.accounts[self.root_account_id]
        found = self._find("account", ref, ACCOUNT_COLUMNS, self.accounts)
        return self.accounts[found] if found is not None else None

    def find_term(self, ref: str) -> Term | None:
        text = ref.strip()
        if text == "default":
            return min(self.terms.values(), key=lambda t: t.id, default=None)
        if text == "current":
            now = self.now()
            current = [
                t
                for t in self.terms.values()
                if (t.start_at is None or t.start_at <= now) and (t.end_at is None or now <= t.end_at)
            ]
            return current[0] if len(current) == 1 else None
        found = self._find("term", text, TERM_COLUMNS, self.terms)
        return self.terms[found] if found is not None else None

    def find_role(self, role_id: str) -> Role | None:
        text = str(role_id).strip()
        return self.roles.get(int(text)) if text.isdigit() and len(text) <= 19 else None

    def course_role_by_name(self, name: str) -> Role | None:
        """``get_course_role_by_name``: built-in type names or custom labels, not deleted ones."""
        if name in BUILT_IN_ROLE_IDS and name != "AccountAdmin":
            return self.roles[BUILT_IN_ROLE_IDS[name]]
        for role in self.roles.values():
            if not role.built_in and role.label == name and role.workflow_state != "deleted":
                return role
        return None

    def can_be_enrolled(self, user: User, course: Course) -> bool:
        """``User#can_be_enrolled_in_course?``: a login in the root account, or a
        creation_pending user already enrolled there (facts §3.2 step 8)."""
        if user.workflow_state != "deleted" and any(p.usable for p in self.pseudonyms.get(user.id, ())):
            return True
        return user.workflow_state == "creation_pending" and course.id in self.user_courses.get(
            user.id, set()
        )

    # -- views -------------------------------------------------------------------
    def default_section_id(self, course_id: int) -> int:
        """``Course#default_section``: the course's active default section, created (named after
        the course) when it has none, e.g. after its default section was cross-listed away."""
        section_id = self.default_sections.get(course_id)
        if section_id is None or self.sections[section_id].workflow_state != "active":
            section = Section(
                id=self.new_id("section"),
                course_id=course_id,
                name=self.courses[course_id].name,
                default_section=True,
            )
            self.add_section(section)
            section_id = section.id
        return section_id

    def move_section(self, section: Section, course_id: int) -> None:
        """``CourseSection#move_to_course``: the section and *all* its enrollments (deleted and
        observer rows included, ``update_all``: no callbacks, updated_at untouched) move to
        ``course_id``. The section is the target's default section only if the target had no
        active section (facts §14.2). Every per-course index follows the rows."""
        old = section.course_id
        if old == course_id:
            return
        target_had_sections = any(
            self.sections[s].workflow_state == "active" for s in self.course_sections.get(course_id, [])
        )
        self.course_sections[old].remove(section.id)
        if self.default_sections.get(old) == section.id:
            del self.default_sections[old]
        section.course_id = course_id
        section.default_section = not target_had_sections
        self.course_sections.setdefault(course_id, []).append(section.id)
        if section.default_section:
            self.default_sections[course_id] = section.id
        old_rows = self.course_index[old]
        new_rows = self.course_index.setdefault(course_id, [])
        users = set()
        for key in self.section_index.get(section.id, []):
            e = self.enrollments[key[2]]
            e.course_id = course_id
            del old_rows[bisect.bisect_left(old_rows, key)]
            bisect.insort(new_rows, key)
            users.add(e.user_id)
        for user_id in users:
            self.user_courses[user_id] = {self.enrollments[k[2]].course_id for k in self.user_index[user_id]}

    def active_sections(self, course_id: int) -> list[Section]:
        return [
            self.sections[s]
            for s in self.course_sections.get(course_id, [])
            if self.sections[s].workflow_state == "active"
        ]

    def iter_from(self, rows: list[SortKey], after: SortKey | None) -> Iterator[Enrollment]:
        """Enrollments of a sorted index, starting just after ``after`` (a bookmark)."""
        start = bisect.bisect_right(rows, after) if after is not None else 0
        table = self.enrollments
        for i in range(start, len(rows)):
            yield table[rows[i][2]]

    def account_chain(self, account_id: int) -> list[int]:
        """The account and its ancestors, nearest first."""
        chain = []
        current: int | None = account_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.accounts[current].parent_account_id
        return chain
