"""The API route table: method + path pattern -> handler, matched segment by segment.

Segments are matched on the raw (still percent-escaped) path, so an escaped slash in an
SIS id (``sis_course_id:A%2FB``) stays inside its segment; parameters are unescaped after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from reconcile.sim import (
    api_account,
    api_courses,
    api_create,
    api_list,
    api_observees,
    api_reports,
    api_sections,
    api_state,
    api_users,
)
from reconcile.sim.context import Request, Response

Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    write: bool

    @property
    def stat_key(self) -> str:
        """``POST /api/v1/courses/:id/enrollments``: every parameter shown as ``:id``."""
        shown = (":id" if part.startswith(":") else part for part in self.pattern)
        return f"{self.method} /" + "/".join(shown)


def _route(method: str, path: str, handler: Handler, *, write: bool | None = None) -> Route:
    """``write``: whether the route changes what Canvas holds (default: any method but GET)."""
    return Route(
        method, tuple(path.strip("/").split("/")), handler, method != "GET" if write is None else write
    )


ROUTES = [
    _route("GET", "/api/v1/courses/:course_id/enrollments", api_list.list_course),
    _route("GET", "/api/v1/sections/:section_id/enrollments", api_list.list_section),
    _route("GET", "/api/v1/users/:user_id/enrollments", api_list.list_user),
    _route("GET", "/api/v1/accounts/:account_id/enrollments/:id", api_account.show_enrollment),
    _route("POST", "/api/v1/courses/:course_id/enrollments", api_create.create_in_course),
    _route("POST", "/api/v1/sections/:section_id/enrollments", api_create.create_in_section),
    _route("POST", "/api/v1/accounts/:account_id/bulk_enrollment", api_account.bulk_enrollment),
    _route("DELETE", "/api/v1/courses/:course_id/enrollments/:id", api_state.destroy),
    _route("POST", "/api/v1/courses/:course_id/enrollments/:id/accept", api_state.accept),
    _route("POST", "/api/v1/courses/:course_id/enrollments/:id/reject", api_state.reject),
    _route("PUT", "/api/v1/courses/:course_id/enrollments/:id/reactivate", api_state.reactivate),
    _route("PUT", "/api/v1/courses/:course_id/users/:user_id/last_attended", api_state.last_attended),
    _route(
        "GET", "/api/v1/users/:user_id/temporary_enrollment_status", api_account.temporary_enrollment_status
    ),
    _route("GET", "/api/v1/accounts/:account_id/courses", api_account.list_courses),
    _route("GET", "/api/v1/progress/:id", api_account.show_progress),
    _route("GET", "/api/v1/users/:user_id", api_users.show),
    _route("GET", "/api/v1/courses/:course_id/sections", api_sections.list_in_course),
    _route("GET", "/api/v1/courses/:course_id/sections/:id", api_sections.show_in_course),
    _route("GET", "/api/v1/sections/:id", api_sections.show),
    _route("POST", "/api/v1/sections/:id/crosslist/:new_course_id", api_sections.crosslist),
    _route("DELETE", "/api/v1/sections/:id/crosslist", api_sections.uncrosslist),
    _route("GET", "/api/v1/courses/:id", api_courses.show),
    _route("GET", "/api/v1/courses/:course_id/permissions", api_courses.course_permissions),
    _route("GET", "/api/v1/users/:user_id/observees", api_observees.list_observees),
    _route("GET", "/api/v1/users/:user_id/observers", api_observees.list_observers),
    _route("GET", "/api/v1/users/:user_id/observees/:observee_id", api_observees.show_observee),
    _route("GET", "/api/v1/users/:user_id/observers/:observer_id", api_observees.show_observer),
    _route("PUT", "/api/v1/users/:user_id/observees/:observee_id", api_observees.add_observee),
    _route("DELETE", "/api/v1/users/:user_id/observees/:observee_id", api_observees.remove_observee),
    # starting a report changes no enrollment: counted among the reads
    _route("POST", "/api/v1/accounts/:account_id/reports/provisioning_csv", api_reports.start, write=False),
    _route("GET", "/api/v1/accounts/:account_id/reports/provisioning_csv/:id", api_reports.show),
    _route("GET", "/files/:id/download", api_reports.download),
    _route("GET", "/accounts/:account_id/files/:id/download", api_reports.download_in_account),
]


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]
    raw_params: dict[str, str]


def match(method: str, raw_path: str) -> Match | None | str:
    """The route for a request; the string ``"method"`` when only the method is wrong."""
    segments = tuple(raw_path.strip("/").split("/"))
    wrong_method = False
    for route in ROUTES:
        if len(route.pattern) != len(segments):
            continue
        raw: dict[str, str] = {}
        for part, segment in zip(route.pattern, segments, strict=True):
            if part.startswith(":"):
                if not segment:
                    break
                raw[part[1:]] = segment
            elif part != segment:
                break
        else:
            if route.method != method:
                wrong_method = True
                continue
            return Match(route, {k: unquote(v) for k, v in raw.items()}, raw)
    return "method" if wrong_method else None
