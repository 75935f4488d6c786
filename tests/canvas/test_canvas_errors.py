"""Error mapping: every Canvas error body shape (facts §10), statuses, throttling, redaction."""

from __future__ import annotations

import json

import pytest

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
    canvas_message,
    error_for_response,
    is_throttle,
    redact,
    strip_secrets,
)

SHAPES = [
    ({"message": "No parameters given"}, "No parameters given"),
    ({"error": "enrollment not inactive"}, "enrollment not inactive"),
    ({"errors": "Too many users to enroll at once."}, "Too many users to enroll at once."),
    ({"errors": [{"message": "Invalid access token."}]}, "Invalid access token."),
    (
        {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]},
        "user not authorized to perform that action",
    ),
    (
        {"errors": [{"message": "An error occurred.", "error_code": "bad_request"}]},
        "An error occurred.",
    ),
    (
        {
            "errors": {
                "associated_user_id": [
                    {
                        "attribute": "associated_user_id",
                        "type": "Cannot observe yourself",
                        "message": "Cannot observe yourself",
                    }
                ]
            }
        },
        "associated_user_id Cannot observe yourself",
    ),
    ({"user": {"errors": {"name": [{"attribute": "name", "message": "too long"}]}}}, "name too long"),
]


@pytest.mark.parametrize(("body", "expected"), SHAPES)
def test_canvas_message_reads_every_body_shape(body: object, expected: str) -> None:
    assert canvas_message(json.dumps(body)) == expected


def test_canvas_message_of_plain_text_and_empty_bodies() -> None:
    assert canvas_message("403 Forbidden (Rate Limit Exceeded)\n") == "403 Forbidden (Rate Limit Exceeded)"
    assert canvas_message("") is None
    assert canvas_message("{}") is None
    assert canvas_message("  ") is None


@pytest.mark.parametrize(
    ("status", "cls", "transient"),
    [
        (400, BadRequest, False),
        (401, Unauthorized, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (500, ServerError, True),
        (503, ServerError, True),
        (429, Throttled, True),
    ],
)
def test_status_maps_to_typed_error(status: int, cls: type[CanvasError], transient: bool) -> None:
    error = error_for_response(
        status, method="GET", path="/api/v1/courses/1/enrollments", body='{"message": "m"}'
    )
    assert type(error) is cls
    assert error.status == status
    assert error.transient is transient
    assert error.method == "GET"
    assert error.path == "/api/v1/courses/1/enrollments"
    assert "GET /api/v1/courses/1/enrollments" in str(error)


def test_other_status_is_base_error_not_transient() -> None:
    error = error_for_response(409, method="PUT", path="/x", body="")
    assert type(error) is CanvasError and not error.transient


def test_403_rate_limit_is_throttle_and_plain_403_is_forbidden() -> None:
    assert is_throttle(403, "403 Forbidden (Rate Limit Exceeded)\n")
    assert is_throttle(429, "")
    assert not is_throttle(403, '{"errors":[{"message":"user not authorized to perform that action"}]}')
    assert isinstance(
        error_for_response(403, method="GET", path="/p", body="403 Forbidden (Rate Limit Exceeded)"),
        Throttled,
    )


def test_transient_flags_of_the_tree() -> None:
    assert TransportError("x").transient and Throttled("x").transient and ServerError("x").transient
    assert not ConfigError("x").transient and not BadRequest("x").transient
    assert all(issubclass(c, CanvasError) for c in (ConfigError, TransportError, Throttled, NotFound))


def test_secrets_are_stripped_from_paths_and_text() -> None:
    path = "/api/v1/courses/1/enrollments?access_token=SEKRIT&per_page=100"
    assert "SEKRIT" not in strip_secrets(path)
    assert "per_page=100" in strip_secrets(path)
    error = NotFound("HTTP 404", method="GET", path=path, status=404)
    assert "SEKRIT" not in str(error) and "SEKRIT" not in repr(error) and "SEKRIT" not in error.path
    assert redact("Authorization: Bearer SEKRIT and SEKRIT again", "SEKRIT").count("SEKRIT") == 0
    assert "SEKRIT" not in strip_secrets("header was Bearer SEKRIT")


def test_message_names_canvas_text_once() -> None:
    error = error_for_response(
        400, method="POST", path="/api/v1/courses/1/enrollments", body='{"message":"Invalid role"}'
    )
    assert str(error).count("Invalid role") == 1
    assert error.canvas_message == "Invalid role"
