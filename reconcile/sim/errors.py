"""Canvas's error answers, one constructor per shape of facts §10.

Handlers raise :class:`ApiError`; the server turns it into the status, body and headers.
The shapes differ by endpoint on purpose: clients must cope with all of them.
"""

from __future__ import annotations

from typing import Any

WWW_AUTHENTICATE = 'Bearer realm="canvas-lms"'


class ApiError(Exception):
    """An HTTP error answer with Canvas's JSON body."""

    def __init__(self, status: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def invalid_token() -> ApiError:
    return ApiError(
        401,
        {"errors": [{"message": "Invalid access token."}]},
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]},
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def unauthorized(status: int = 403) -> ApiError:
    """render_unauthorized_action: 403 with api_auth_error_updates (hosted Canvas), else 401."""
    return ApiError(
        status,
        {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]},
    )


def not_found() -> ApiError:
    return ApiError(404, {"errors": [{"message": "The specified resource does not exist."}]})


def generic(status: int, code: str) -> ApiError:
    """Unhandled exceptions mapped to a status: ``An error occurred.`` with the status name."""
    return ApiError(status, {"errors": [{"message": "An error occurred.", "error_code": code}]})


def bad_request_generic() -> ApiError:
    return generic(400, "bad_request")


def message(text: str, status: int = 400) -> ApiError:
    return ApiError(status, {"message": text})


def error(text: str, status: int = 400) -> ApiError:
    return ApiError(status, {"error": text})


def errors_string(text: str) -> ApiError:
    """bulk_enrollment's shape: ``errors`` is a plain string."""
    return ApiError(400, {"errors": text})


def model_errors(errors: dict[str, list[tuple[str, str]]]) -> ApiError:
    """An invalid record: ``{"errors": {attr: [{attribute, type, message}]}}``."""
    body = {
        attribute: [{"attribute": attribute, "type": kind, "message": text} for kind, text in items]
        for attribute, items in errors.items()
    }
    return ApiError(400, {"errors": body})
