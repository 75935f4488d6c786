"""A deterministic synthetic institution for tests and benchmarks.

Same arguments, same document, byte for byte. The mix resembles a real term: most
enrollments active, a few invited, inactive, completed, deleted or rejected; one teacher
per course, a TA in every fourth course, some parents observing a student, a few
unpublished and concluded courses, students taking about four courses each.
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
) -> dict[str, Any]:
    """A seed document (schemas/sim-seed.schema.json) for a synthetic institution.

    Holds about ``courses * students_per_course`` student enrollments plus staff and
    observers; the admin token is :data:`ADMIN_TOKEN`.
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
    return {
        "now": NOW,
        "accounts": accounts,
        "terms": terms,
        "courses": course_rows,
        "sections": section_rows,
        "users": users,
        "enrollments": enrollments,
        "tokens": [{"token": ADMIN_TOKEN, "user_id": 1, "admin": True}],
    }
