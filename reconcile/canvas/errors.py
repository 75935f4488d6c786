"""Every failure the Canvas client reports, as one exception tree.

::

    CanvasError                  base; .status .method .path .canvas_message .transient
    ├── ConfigError              bad URL, missing token, http:// on a non-loopback host
    ├── TransportError           connection refused/reset, DNS, timeouts (after retries)   transient
    ├── Throttled                429, or 403 "Rate Limit Exceeded" (after retries)         transient
    ├── ServerError              500-599 (after retries where the method allows them)     transient
    ├── BadRequest               400: Canvas refused the parameters
    ├── Unauthorized             401: token missing, invalid, expired or lacking scopes
    ├── Forbidden                403 that is not throttling: not permitted
    └── NotFound                 404: no such course/section/user/enrollment (or deleted)

Canvas's own explanation is pulled out of whichever of its error body shapes the
endpoint used (facts §10) and kept in ``canvas_message``. Paths are stored with any
``access_token`` removed; the token itself never appears in a message or repr.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
RATE_LIMIT_MARKER = "rate limit exceeded"
_SECRET_PARAMS = {"access_token", "api_key"}
# A bearer token written out in free text (e.g. an echoed header).
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s,;\"']+")


class CanvasError(Exception):
    """Base of every client error.

    ``status`` is the HTTP status (None when no response arrived), ``method`` and
    ``path`` say which call failed (path without secrets), ``canvas_message`` is
    Canvas's own text when it gave one. ``transient`` says whether retrying later may help.
    """

    transient = False

    def __init__(
        self,
        summary: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        canvas_message: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = strip_secrets(path) if path else path
        self.canvas_message = canvas_message
        self.summary = summary
        super().__init__(self._render())

    def _render(self) -> str:
        # The message names the endpoint; the query (e.g. seven state[] values) stays in .path for logs.
        where = f"{self.method} {self.path.split('?', 1)[0]}" if self.method and self.path else ""
        parts = [p for p in (where, self.summary) if p]
        text = ": ".join(parts)
        if self.canvas_message and self.canvas_message not in text:
            text = f"{text} (Canvas said: {self.canvas_message})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r})"


class ConfigError(CanvasError):
    """The client cannot be built: bad URL, no token, plain http to a remote host."""


class TransportError(CanvasError):
    """No usable response: connection error or timeout, after the retries ran out."""

    transient = True


class Throttled(CanvasError):
    """Canvas kept answering 429 / 403 "Rate Limit Exceeded" until the retries ran out."""

    transient = True


class ServerError(CanvasError):
    """A 5xx answer (after retries for methods that may be repeated)."""

    transient = True


class BadRequest(CanvasError):
    """400: Canvas refused the request's parameters."""


class Unauthorized(CanvasError):
    """401: the token is missing, invalid, expired, revoked or lacks scopes."""


class Forbidden(CanvasError):
    """403 that is not throttling: the token's user may not do this."""


class NotFound(CanvasError):
    """404: the object does not exist (or is deleted, where Canvas hides deleted rows)."""


_BY_STATUS: dict[int, type[CanvasError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}


def is_throttle(status: int, body: str) -> bool:
    """True for Canvas's throttled answer: 429, or 403 whose body says "Rate Limit Exceeded" (facts §11)."""
    if status == 429:
        return True
    return status == 403 and RATE_LIMIT_MARKER in body.lower()


def canvas_message(body: str) -> str | None:
    """Canvas's human message from an error body of any of its shapes (facts §10).

    Handles ``{"message": s}``, ``{"error": s}``, ``{"errors": s}``,
    ``{"errors": [{"message": s}, ...]}`` and the model-error dict
    ``{"errors": {"attr": [{"attribute", "type", "message"}]}}``; plain text bodies
    (the throttle answer) are returned stripped. None when nothing useful is there.
    """
    text = body.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return _clip(text)
    found = _message_from_json(data)
    return _clip(found) if found else None


def _message_from_json(data: Any) -> str | None:
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        parts = [m for m in (_message_from_json(item) for item in data) if m]
        return "; ".join(parts) or None
    if not isinstance(data, dict):
        return None
    for key in ("message", "error"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    errors = data.get("errors")
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return _message_from_json(errors)
    if isinstance(errors, dict):
        parts = []
        for attribute, problems in errors.items():
            items = problems if isinstance(problems, list) else [problems]
            for item in items:
                detail = item.get("message") or item.get("type") if isinstance(item, dict) else item
                if detail:
                    parts.append(f"{attribute} {detail}")
        return "; ".join(parts) or None
    for key in ("user", "enrollment"):  # nested reporter bodies, e.g. {"user": {"errors": ...}}
        if isinstance(data.get(key), dict):
            return _message_from_json(data[key])
    return None


def _clip(text: str, limit: int = 500) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def error_for_response(status: int, *, method: str, path: str, body: str, retries: int = 0) -> CanvasError:
    """The typed error for a non-success answer. ``path`` may be a full URL; secrets are removed.
    ``retries`` (how many were made before giving up) is mentioned in the message."""
    message = canvas_message(body)
    after = f" after {retries} retries" if retries else ""
    if is_throttle(status, body):
        return Throttled(
            f"throttled by Canvas ({status}){after}",
            status=status,
            method=method,
            path=path,
            canvas_message=message,
        )
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else CanvasError
    return cls(f"HTTP {status}{after}", status=status, method=method, path=path, canvas_message=message)


def strip_secrets(url_or_path: str) -> str:
    """``url_or_path`` without ``access_token``/``api_key`` query values and without bearer tokens."""
    text = _BEARER.sub(r"\1" + REDACTED, url_or_path)
    if "?" not in text:
        return text
    parts = urlsplit(text)
    query = [
        (key, REDACTED if key.lower() in _SECRET_PARAMS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]:/")))


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (and any query-string token) replaced."""
    if secret:
        text = text.replace(secret, REDACTED)
    return strip_secrets(text)
