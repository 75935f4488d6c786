"""OneRoster guardians -> Canvas observers.

A guardian, parent or relative is linked to a student through ``users.csv``
``agentSourcedIds`` (either side may list the other). Linked observers observe the
student in every class the student is enrolled in; a guardian enrolled in a class
directly observes the linked students of that class instead. A user's OneRoster role
comes from ``users.csv`` ``role`` (1.1), a ``roles`` column, or ``roles.csv`` (1.2).
Pure: works on parsed tables.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconcile.config import OneRosterSettings
from reconcile.frames import ROLE_WORDS
from reconcile.roster.csvread import FILE, ROW
from reconcile.roster.problems import Problem, error

if TYPE_CHECKING:
    from reconcile.roster.oneroster import Files

OBSERVER = ROLE_WORDS["observer"]
STUDENT = ROLE_WORDS["student"]


def _user_roles(files: Files) -> dict[str, str]:
    """User sourcedId -> OneRoster role (lower case), from users.csv role/roles or roles.csv."""
    roles: dict[str, str] = {}
    users = files.get("users.csv")
    if users is not None and "role" in users.columns:
        roles.update(zip(users["sourcedId"].str.strip(), users["role"].str.strip().str.lower(), strict=True))
    elif users is not None and "roles" in users.columns:
        for sid, text in zip(users["sourcedId"].str.strip(), users["roles"], strict=True):
            tokens = [
                t for t in re.split(r"[^A-Za-z]+", text.lower()) if t and t not in {"primary", "secondary"}
            ]
            if tokens:
                roles[sid] = tokens[0]
    table = files.get("roles.csv")
    if table is not None:
        primary = (
            table.sort_values(by="roleType", key=lambda s: s != "primary")
            if "roleType" in table.columns
            else table
        )
        for sid, role in zip(
            primary["userSourcedId"].str.strip(), primary["role"].str.strip().str.lower(), strict=True
        ):
            roles.setdefault(sid, role)
    return roles


def observer_rows(
    files: Files, settings: OneRosterSettings, rows: pd.DataFrame, uid: pd.Series, problems: list[Problem]
) -> tuple[pd.DataFrame | None, list[object]]:
    """Observer rows from agent links, and the index of direct guardian rows they replace."""
    users = files.get("users.csv")
    if users is None or "agentSourcedIds" not in users.columns:
        return None, []
    user_file = files.label("users.csv")
    known = set(users["sourcedId"].str.strip())
    roles = _user_roles(files)
    row_of = dict(zip(users["sourcedId"].str.strip(), users[ROW], strict=True))
    links: dict[str, list[tuple[str, str]]] = {}  # student -> [(observer, users.csv row)]
    for sid, text, line in zip(
        users["sourcedId"].str.strip(), users["agentSourcedIds"], users[ROW], strict=True
    ):
        for agent in (a.strip() for a in text.split(",") if a.strip()):
            if agent not in known:
                problems.append(
                    error(
                        user_file,
                        line,
                        "agentSourcedIds",
                        "unknown_user",
                        f"agent {agent!r} is not in users.csv",
                    )
                )
                continue
            if settings.role_map.get(roles.get(agent, "")) == OBSERVER:
                links.setdefault(sid, []).insert(0, (agent, line))
            elif settings.role_map.get(roles.get(sid, "")) == OBSERVER:
                links.setdefault(agent, []).append((sid, row_of[sid]))
    if not links:
        return None, []
    prefix = {"sis": "sis:", "integration": "integration:", "login": "login:"}[settings.user_id_kind]
    ids = dict(zip(uid, rows["user_id"], strict=True))
    if settings.user_id_from != "sourcedId" and settings.user_id_from in users.columns:
        ids.update(
            zip(
                users["sourcedId"].str.strip(), prefix + users[settings.user_id_from].str.strip(), strict=True
            )
        )
    extra: list[dict[str, object]] = []
    made: set[tuple[object, ...]] = set()
    # A guardian enrolled in a class directly observes their linked students in that class.
    observes: dict[str, list[str]] = {}
    for student, pairs in links.items():
        for observer, _ in pairs:
            observes.setdefault(observer, []).append(student)
    enrolled = set(zip(uid, rows["course_id"], rows["section_id"], strict=True))
    direct = np.flatnonzero((rows["role"] == OBSERVER).to_numpy())
    replaced = []
    for i in direct:
        row = rows.iloc[i].to_dict()
        targets = [
            s
            for s in dict.fromkeys(observes.get(uid.iat[i], []))
            if (s, row["course_id"], row["section_id"]) in enrolled
        ]
        if targets:
            replaced.append(rows.index[i])
        for student in targets:
            made.add((row["course_id"], row["section_id"], uid.iat[i], student))
            extra.append({**row, "associated_user_id": ids.get(student, prefix + student)})
    students = rows[(rows["role"] == STUDENT).to_numpy()]
    student_uids = uid[(rows["role"] == STUDENT).to_numpy()]
    for (_, row), student in zip(students.iterrows(), student_uids, strict=True):
        first_link: dict[str, str] = {}
        for observer, line in links.get(student, []):
            first_link.setdefault(observer, line)
        for observer, line in first_link.items():
            if (row["course_id"], row["section_id"], observer, student) in made:
                continue
            extra.append(
                {
                    **row.to_dict(),
                    "user_id": ids.get(observer, prefix + observer),
                    "role": OBSERVER,
                    "associated_user_id": ids.get(student, prefix + student),
                    ROW: line,
                    FILE: user_file,
                }
            )
    return (pd.DataFrame(extra) if extra else None), replaced
