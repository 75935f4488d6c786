"""Effective configuration (DESIGN §8): typed, frozen, every key defaulted.

This module holds the in-memory shape only. Loading ``reconcile.yaml``, validating it
against ``schemas/config.schema.json`` and applying ``CANVAS_API_URL`` overrides is
added alongside (see :func:`load_config`). The API token is never part of a Config:
it is read from the environment by the Canvas client and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DropPolicy = Literal["deleted_last_completed", "conclude", "inactivate", "delete", "ignore"]
Ownership = Literal["all", "sis"]


@dataclass(frozen=True)
class CanvasSettings:
    url: str | None = None  # CANVAS_API_URL overrides
    account_id: str = "self"  # root account id or ref, for account-level calls
    per_page: int = 100
    concurrency: int = 8
    timeout: float = 30.0  # seconds, per request
    retries: int = 5  # attempts after the first, for transient failures


@dataclass(frozen=True)
class ManageSettings:
    # Canvas role names (StudentEnrollment, ... or custom labels); None = roles in the roster.
    roles: tuple[str, ...] | None = None
    courses: tuple[str, ...] = ()  # extra course refs in scope
    ownership: Ownership = "all"


@dataclass(frozen=True)
class PolicySettings:
    drop: DropPolicy = "deleted_last_completed"
    notify: bool = False
    enrollment_state: Literal["active", "invited", "inactive"] = "active"  # for rows without status


@dataclass(frozen=True)
class GuardSettings:
    max_drop_percent: float = 25.0
    min_course_size: int = 10
    max_drops: int = 500
    protected_roles: tuple[str, ...] = ("TeacherEnrollment",)


@dataclass(frozen=True)
class OneRosterSettings:
    class_maps_to: Literal["course", "section"] = "course"
    # Which OneRoster field holds the Canvas course / section SIS id.
    course_id_from: str = "classSourcedId"
    section_id_from: str = "classSourcedId"
    role_map: dict[str, str] = field(
        default_factory=lambda: {
            "student": "StudentEnrollment",
            "teacher": "TeacherEnrollment",
            "administrator": "TeacherEnrollment",
            "proctor": "TaEnrollment",
            "guardian": "ObserverEnrollment",
            "parent": "ObserverEnrollment",
            "relative": "ObserverEnrollment",
            "aide": "TaEnrollment",
        }
    )
    non_primary_teacher_as_ta: bool = False


@dataclass(frozen=True)
class Config:
    canvas: CanvasSettings = field(default_factory=CanvasSettings)
    manage: ManageSettings = field(default_factory=ManageSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    guards: GuardSettings = field(default_factory=GuardSettings)
    oneroster: OneRosterSettings = field(default_factory=OneRosterSettings)
    state_dir: str = ".reconcile"
