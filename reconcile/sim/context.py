"""The request and response values passed between the HTTP server and the API handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconcile.sim import errors
from reconcile.sim.auth import Caller, CourseRights, course_rights
from reconcile.sim.model import Course, Section, User
from reconcile.sim.params import Params
from reconcile.sim.store import Store


@dataclass(frozen=True, slots=True)
class Request:
    """One authenticated API request, already routed and parsed."""

    store: Store
    caller: Caller
    method: str
    path_params: dict[str, str]
    raw_path_params: dict[str, str]
    params: Params
    query: Params
    base_url: str
    unauthorized_status: int = 403
    # How long an account report takes from POST to complete (the simulator's knob).
    report_delay_s: float = 0.0

    def deny(self) -> errors.ApiError:
        return errors.unauthorized(self.unauthorized_status)

    def rights(self, course: Course) -> CourseRights:
        return course_rights(self.store, self.caller, course)

    def course(self, name: str = "course_id") -> Course:
        """The course of the path; token requests find deleted courses too (facts §0)."""
        course = self.store.find_course(self.path_params[name])
        if course is None:
            raise errors.not_found()
        return course

    def section(self, name: str = "section_id") -> Section:
        """The section of the path; deleted sections are found too (facts §0)."""
        section = self.store.find_section(self.path_params[name])
        if section is None:
            raise errors.not_found()
        return section

    def user(self, name: str = "user_id") -> User:
        """A path user among active (non-deleted) users."""
        user = self.store.find_user(self.path_params[name], caller_id=self.caller.user_id)
        if user is None or user.workflow_state == "deleted":
            raise errors.not_found()
        return user


@dataclass(slots=True)
class Response:
    """An answer, JSON unless ``content_type`` is set (then ``raw`` is sent as it is);
    ``items`` feeds the per-item part of the request cost."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    items: int = 0
    # Already-encoded JSON for ``body`` (list pages), or the bytes of a non-JSON answer.
    raw: bytes | None = None
    content_type: str | None = None
