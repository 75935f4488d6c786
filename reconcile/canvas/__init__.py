"""The Canvas API client: the only code in this project that speaks HTTP to Canvas.

``CanvasClient`` wraps the Enrollments API with pagination, a shared adaptive rate
limiter, retries with backoff, typed errors and typed records; ``fetch_current``
returns the current-state frame the planner diffs (``fetch_current_chunks`` the same a
few thousand rows at a time, for streaming); ``send`` performs a plan's request.
"""

from __future__ import annotations

from reconcile.canvas.client import CanvasClient
from reconcile.canvas.errors import (
    BadRequest,
    CanvasError,
    ConfigError,
    Forbidden,
    NotFound,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
)
from reconcile.canvas.params import enrollment_filters, enrollment_params
from reconcile.canvas.records import Course, Enrollment, Progress, TemporaryEnrollmentStatus, User
from reconcile.canvas.refs import normalize as normalize_ref
from reconcile.canvas.refs import segment as path_segment
from reconcile.canvas.transport import ClientStats

__all__ = [
    "BadRequest",
    "CanvasClient",
    "CanvasError",
    "ClientStats",
    "ConfigError",
    "Course",
    "Enrollment",
    "Forbidden",
    "NotFound",
    "Progress",
    "ServerError",
    "TemporaryEnrollmentStatus",
    "Throttled",
    "TransportError",
    "Unauthorized",
    "User",
    "enrollment_filters",
    "enrollment_params",
    "normalize_ref",
    "path_segment",
]
