"""A deterministic synthetic institution for tests and benchmarks.

Same arguments, same document, byte for byte. The mix resembles a real term: most
enrollments active, a few invited, inactive, completed, deleted or rejected; one teacher
per course, a TA in every fourth course, some parents observing a student, a few
unpublished and concluded courses, students taking about four courses each. Optionally,
the entanglements of facts §14: linked parents, cross-listed sections, second logins.
"""

from __future__ import annotations

import random
from typing import Any

ADMIN_TOKEN = "sim-admin-token"
NOW = "2026-10-15T12:00:00Z"

FIRST = ["Amara", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hana", "Isaac", "Jada", "Kwame", "Lucía",
         "Mei", "Noor", "Olivia", "Pedro", "Qing", "Rahul", "Sofia", "Tomás", "Uma", "Victor", "Wanjiru", "Xavier",
         "Yara", "Zoe", "Émile", "Aiyana", "Björn", "Chiara"]  # fmt: skip
LAST = ["Okafor", "Carter", "Dubois", "Volkov", "Rossi", "Haddad", "Kim", "Novak", "Levi", "Williams", "Mensah",
        "Fernández", "Chen", "Petrov", "Brown", "Alves", "Zhao", "Gupta", "García", "Silva", "Patel", "Nguyen",
        "Kamau", "Martin", "Costa", "Adams", "Laurent", "Begay", "Øster", "Tanaka"]  # fmt: skip
SUBJECTS = ["MATH", "BIO", "CHEM", "PHYS", "HIST", "ENG", "ECON", "PSYC", "CS", "ART", "MUS", "PHIL"]
STATE_MIX = [
    ("active", 900),
    ("invited", 30),
    ("inactive", 20),
    ("completed", 20),
    ("deleted", 20),
    ("rejected", 10),
]


def _person(rng: random.Random, uid: int, sis: str, domain: str = "example.edu") -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "id": uid,
        "name": f"{first} {last}",
        "sortable_name": f"{last}, {first}",
        "short_name": first,
        "sis_user_id": sis,
        "integration_id": f"int-{sis}",
        "login_id": f"{sis.lower()}@{domain}",
    }


def _state(rng: random.Random) -> str:
    pick = rng.randrange(sum(weight for _, weight in STATE_MIX))
    for state, weight in STATE_MIX:
        if pick < weight:
            return state
        pick -= weight
    return "active"


def _in_course(workflow: str, state: str) -> str:
    """A state as it would be in a course of this workflow state (unpublished, concluded)."""
    if workflow == "created" and state in ("active", "invited"):
        return "creation_pending"
    if workflow == "completed" and state in ("active", "invited"):
        return "completed"
    return state


def generate(
    *,
    courses: int = 20,
    students_per_course: int = 30,
    sections_per_course: int = 1,
    random_seed: int = 0,
    linked_parents: float = 0.0,
    crosslisted_sections: float = 0.0,
    second_logins: float = 0.0,
) -> dict[str, Any]:
    """A seed document (schemas/sim-seed.schema.json) for a synthetic institution.

    Holds about ``courses * students_per_course`` student enrollments plus staff and
    observers; the admin token is :data:`ADMIN_TOKEN`. The shares (0 to 1) add Canvas's
    entanglements (facts §14): ``linked_parents`` of the students get a parent with an
    observer link and the observer enrollments Canvas keeps for it; ``crosslisted_sections``
    of the published courses' sections are cross-listed into another published course of
    the same term, their enrollments with them; ``second_logins`` of the users get a second
    SIS login. With every share 0 the document is the same as without them.
    """
    rng = random.Random(random_seed)
    sub_accounts = max(1, courses // 250)
    accounts: list[dict[str, Any]] = [{"id": 1, "name": "Synthetic University", "sis_account_id": "SU"}]
    accounts += [
        {
            "id": 2 + i,
            "name": f"Faculty {i + 1}",
            "sis_account_id": f"SU-F{i + 1:02d}",
            "parent_account_id": 1,
        }
        for i in range(sub_accounts)
    ]
    terms = [
        {"id": 1, "name": "Spring 2026", "sis_term_id": "T2026SP", "start_at": "2026-01-12T08:00:00Z",
         "end_at": "2026-05-15T23:59:59Z"},
        {"id": 2, "name": "Fall 2026", "sis_term_id": "T2026FA", "start_at": "2026-08-24T08:00:00Z",
         "end_at": "2026-12-19T23:59:59Z"},
    ]  # fmt: skip
    users: list[dict[str, Any]] = [
        {
            "id": 1,
            "name": "Sam Admin",
            "sortable_name": "Admin, Sam",
            "sis_user_id": "ADMIN1",
            "login_id": "admin@example.edu",
        }
    ]
    n_teachers = max(1, courses // 3 + 1)
    teachers = [_person(rng, 2 + i, f"T{i + 1:05d}") for i in range(n_teachers)]
    n_students = max(students_per_course, courses * students_per_course // 4)
    first_student = 2 + n_teachers
    students = [_person(rng, first_student + i, f"S{i + 1:06d}") for i in range(n_students)]
    users += teachers + students
    next_user = first_student + n_students

    course_rows: list[dict[str, Any]] = []
    section_rows: list[dict[str, Any]] = []
    enrollments: list[dict[str, Any]] = []
    next_section = 1
    observers = 0
    for c in range(1, courses + 1):
        subject = SUBJECTS[c % len(SUBJECTS)]
        code = f"{subject}{100 + c % 400}"
        roll = rng.random()
        workflow = "created" if roll < 0.03 else "completed" if roll < 0.06 else "available"
        term = 1 if workflow == "completed" else 2
        sis = f"C{c:05d}-{'S26' if term == 1 else 'F26'}"
        course_rows.append(
            {"id": c, "name": f"{code} {subject.title()} {c}", "course_code": code, "sis_course_id": sis,
             "integration_id": f"int-c-{c}", "account_id": 2 + c % sub_accounts, "enrollment_term_id": term,
             "workflow_state": workflow}
        )  # fmt: skip
        section_ids = []
        for s in range(sections_per_course):
            section_rows.append(
                {"id": next_section, "course_id": c, "name": f"{code} section {s + 1}",
                 "sis_section_id": f"{sis}-{s + 1:02d}"}
            )  # fmt: skip
            section_ids.append(next_section)
            next_section += 1

        def add(user_id: int, etype: str, state: str, section: int, **extra: Any) -> None:
            row = {"id": len(enrollments) + 1, "user_id": user_id, "course_id": course_rows[-1]["id"],
                   "course_section_id": section, "type": etype, "workflow_state": state, "sis_import_id": 1}  # fmt: skip
            row.update(extra)
            enrollments.append(row)

        teacher = teachers[c % n_teachers]
        add(teacher["id"], "TeacherEnrollment", _in_course(workflow, "active"), section_ids[0])
        if c % 4 == 0:
            ta = teachers[(c * 7 + 1) % n_teachers]
            if ta["id"] != teacher["id"]:
                add(ta["id"], "TaEnrollment", _in_course(workflow, "active"), section_ids[-1])
        roster = rng.sample(students, min(students_per_course, n_students))
        for i, student in enumerate(roster):
            section = section_ids[i % len(section_ids)]
            add(student["id"], "StudentEnrollment", _in_course(workflow, _state(rng)), section)
            if rng.random() < 0.01:
                observers += 1
                parent: dict[str, Any] = {
                    "id": next_user,
                    "name": f"Parent of {student['name']}",
                    "sortable_name": f"{student['sortable_name'].split(',')[0]}, Parent {observers}",
                    "short_name": "Parent",
                    "sis_user_id": f"P{observers:06d}",
                    "login_id": f"p{observers:06d}@example.com",
                }
                users.append(parent)
                next_user += 1
                add(parent["id"], "ObserverEnrollment", "active", section, associated_user_id=student["id"])
    doc: dict[str, Any] = {
        "now": NOW,
        "accounts": accounts,
        "terms": terms,
        "courses": course_rows,
        "sections": section_rows,
        "users": users,
        "enrollments": enrollments,
        "tokens": [{"token": ADMIN_TOKEN, "user_id": 1, "admin": True}],
    }
    # Each extra has its own random stream, so the base world is the same with or without it.
    if second_logins > 0:
        _add_second_logins(doc, second_logins, random.Random(f"{random_seed}:logins"))
    if crosslisted_sections > 0:
        _crosslist(doc, crosslisted_sections, random.Random(f"{random_seed}:crosslist"))
    if linked_parents > 0:
        _link_parents(doc, linked_parents, random.Random(f"{random_seed}:parents"))
    return doc


def _share(rng: random.Random, population: list[Any], share: float) -> list[Any]:
    """A sorted random sample of ``share`` of ``population`` (at least one when share > 0)."""
    count = min(len(population), max(1, round(share * len(population))))
    chosen = set(rng.sample(range(len(population)), count)) if population else set()
    return [item for i, item in enumerate(population) if i in chosen]


def _add_second_logins(doc: dict[str, Any], share: float, rng: random.Random) -> None:
    """A re-issued SIS id for some users: a second login after the one their own ids make."""
    people = [u for u in doc["users"] if u["id"] != 1 and u.get("sis_user_id")]
    for user in _share(rng, people, share):
        local, _, domain = (user.get("login_id") or f"u{user['id']}@example.edu").partition("@")
        user["pseudonyms"] = [{"sis_user_id": f"{user['sis_user_id']}-2", "login_id": f"{local}.2@{domain}"}]


def _crosslist(doc: dict[str, Any], share: float, rng: random.Random) -> None:
    """Cross-list sections into another published course of the same term (facts §14.2):
    the section's course_id is its new course, nonxlist_course_id the original, and every
    enrollment of the section is in the new course."""
    published = {c["id"]: c for c in doc["courses"] if c.get("workflow_state", "available") == "available"}
    by_term: dict[Any, list[int]] = {}
    for course in published.values():
        by_term.setdefault(course.get("enrollment_term_id"), []).append(course["id"])
    candidates = [s for s in doc["sections"] if s["course_id"] in published]
    rows_of: dict[int, list[dict[str, Any]]] = {}
    for row in doc["enrollments"]:
        rows_of.setdefault(row["course_section_id"], []).append(row)
    for section in _share(rng, candidates, share):
        original = section["course_id"]
        targets = [c for c in by_term[published[original].get("enrollment_term_id")] if c != original]
        if not targets:
            continue
        target = rng.choice(targets)
        section["course_id"], section["nonxlist_course_id"] = target, original
        for row in rows_of.get(section["id"], []):
            row["course_id"] = target


def _link_parents(doc: dict[str, Any], share: float, rng: random.Random) -> None:
    """A parent with an observer link for some students, and the observer enrollments Canvas
    creates when linking (facts §14.1): one per student enrollment that is not rejected,
    completed or deleted, in its section, invited shown as active, no SIS import."""
    rows_of: dict[int, list[dict[str, Any]]] = {}
    for row in doc["enrollments"]:
        if row["type"] == "StudentEnrollment":
            rows_of.setdefault(row["user_id"], []).append(row)
    users = {u["id"]: u for u in doc["users"]}
    links: list[dict[str, Any]] = []
    next_user = max(users) + 1
    next_row = max((r["id"] for r in doc["enrollments"]), default=0) + 1
    for n, student_id in enumerate(_share(rng, sorted(rows_of), share), start=1):
        student = users[student_id]
        family = student["sortable_name"].split(",")[0]
        doc["users"].append(
            {"id": next_user, "name": f"Guardian of {student['name']}", "sortable_name": f"{family}, Guardian {n}",
             "short_name": "Guardian", "sis_user_id": f"G{n:06d}", "login_id": f"g{n:06d}@example.com"}
        )  # fmt: skip
        links.append({"observer_id": next_user, "student_id": student_id})
        for row in sorted(rows_of[student_id], key=lambda r: (r["course_id"], r["id"])):
            if row["workflow_state"] in ("rejected", "completed", "deleted"):
                continue
            doc["enrollments"].append(
                {"id": next_row, "user_id": next_user, "course_id": row["course_id"],
                 "course_section_id": row["course_section_id"], "type": "ObserverEnrollment",
                 "workflow_state": "active" if row["workflow_state"] == "invited" else row["workflow_state"],
                 "associated_user_id": student_id}
            )  # fmt: skip
            next_row += 1
        next_user += 1
    doc["observer_links"] = links
