"""The one place that speaks HTTP to Canvas: session, auth, timeouts, retries, throttling.

Every request goes through :meth:`Transport.request`:

- the token travels only in the ``Authorization`` header (never in a URL; an
  ``access_token`` query parameter given by a caller is lifted out into the header);
- connect and read timeouts on every request;
- the shared :class:`~reconcile.canvas.ratelimit.RateLimiter` admits it and learns from
  ``X-Rate-Limit-Remaining`` and ``X-Request-Cost`` (it paces requests to Canvas's
  bucket); 429 / 403 "Rate Limit Exceeded" is retried after a
  jittered pause (always safe: Canvas refused it before running it);
- connection errors, timeouts and 500/502/503/504 are retried with exponential backoff
  and jitter when the request may be repeated (``idempotent``); a request that provably
  never left (connect failure) is retried whatever its method;
- a ``Retry-After`` header (seconds or an HTTP date) on a throttled or 5xx answer is
  honoured: the pause is at least that long, up to :data:`MAX_RETRY_AFTER`. Canvas itself
  sends none (facts §11), but a proxy or load balancer in front of it may;
- any other non-2xx answer becomes a typed :mod:`~reconcile.canvas.errors` error.

Logging (logger ``reconcile.canvas``, never the token: paths pass through
:func:`~reconcile.canvas.errors.strip_secrets`): every retry, throttle pause and backoff at
INFO with its reason and length; every request at DEBUG.

urllib3's own Retry is left at zero: its sleeps would happen outside the rate limiter,
which must see every attempt and every pause.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from reconcile import __version__
from reconcile.canvas.errors import (
    CanvasError,
    Throttled,
    TransportError,
    error_for_response,
    is_throttle,
    redact,
    strip_secrets,
)
from reconcile.canvas.links import link_header, parse_link_header
from reconcile.canvas.ratelimit import RateLimiter

log = logging.getLogger("reconcile.canvas")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is cut to this, so one answer cannot stall a run
_DROPPED = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
Params = Mapping[str, Any] | list[tuple[str, Any]] | None


@dataclass(frozen=True)
class ClientStats:
    """Counts since the client was made. ``requests`` counts every HTTP attempt."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    failures: int = 0  # calls that raised after their retries (or at once, for 4xx)
    pages: int = 0
    request_cost: float = 0.0  # sum of X-Request-Cost
    waited: float = 0.0  # seconds of backoff and throttle pauses (what retries added to the run)


@dataclass(frozen=True)
class Response:
    """A successful answer: parsed JSON plus what pagination needs."""

    status: int
    data: Any
    links: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


class _Bearer(requests.auth.AuthBase):
    """Sets the Authorization header; an explicit auth object also keeps ~/.netrc from overriding it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer([REDACTED])"


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = dict.fromkeys(ClientStats.__dataclass_fields__, 0)

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> ClientStats:
        with self._lock:
            values = dict(self._values)
        cost, waited = values.pop("request_cost"), values.pop("waited")
        return ClientStats(**{k: int(v) for k, v in values.items()}, request_cost=cost, waited=waited)


class Transport:
    """HTTP to one Canvas with one token. Thread-safe; share one per client."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        limiter: RateLimiter,
        timeout: float | tuple[float, float] = 30.0,
        retries: int = 5,
        throttle_retries: int = 12,
        pool_size: int = 8,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._token = token
        self.limiter = limiter
        self.timeout = timeout if isinstance(timeout, tuple) else (min(10.0, timeout), timeout)
        self.retries = retries
        self.throttle_retries = throttle_retries
        self._counters = _Counters()
        self.session = session or requests.Session()
        adapter = HTTPAdapter(
            pool_connections=2,
            pool_maxsize=max(pool_size, 2),
            max_retries=Retry(total=0, read=False, redirect=False),
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        _settle_environment(self.session, self.base_url)
        self.session.headers.update(
            {"User-Agent": f"canvas-reconcile/{__version__}", "Accept": "application/json"}
        )

    @property
    def stats(self) -> ClientStats:
        return self._counters.snapshot()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    # -- one request -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Params = None,
        data: Params = None,
        idempotent: bool | None = None,
    ) -> Response:
        """Send one request (with retries) and return its parsed JSON answer.

        ``path_or_url`` is ``/api/v1/...`` (already escaped) or an absolute URL on the
        same origin (a Link). ``params`` go in the query string, ``data`` in a form body.
        ``idempotent`` defaults to True for GET/PUT/DELETE and False for POST.
        Raises the typed errors of :mod:`reconcile.canvas.errors`.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in {"GET", "HEAD", "PUT", "DELETE"}
        url, query_token = self._url(path_or_url)
        query, token_q = _pairs(params)
        body, token_b = _pairs(data)
        token = token_q or token_b or query_token or self._token
        shown = _Shown(url, query)  # rendered only for a log line or an error
        try:
            return self._attempts(method, url, query, body, token, idempotent, shown)
        except CanvasError:
            self._counters.add("failures")
            raise

    def download(self, path_or_url: str, *, max_bytes: int) -> bytes:
        """GET a file Canvas made (a report's attachment): its bytes, refused past ``max_bytes``.

        Same limiter, retries and errors as :meth:`request`. Canvas answers a file download with
        a redirect to its file store; a redirect on this origin is followed with the token, one to
        another origin (a signed storage URL) without it, so the token never leaves Canvas.
        """
        url, query_token = self._url(path_or_url)
        token = query_token or self._token
        for _ in range(5):
            shown = _Shown(url, [])
            try:
                answer = self._attempts("GET", url, [], [], token, True, shown, raw_limit=max_bytes)
            except CanvasError:
                self._counters.add("failures")
                raise
            if not 300 <= answer.status < 400:
                return bytes(answer.data)
            location = urljoin(url, answer.headers.get("Location") or "")
            if _origin(location) == self._origin:
                url = location
                continue
            return _fetch_elsewhere(self.session, location, timeout=self.timeout, max_bytes=max_bytes)
        raise CanvasError("too many redirects", method="GET", path=strip_secrets(path_or_url))

    def _attempts(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        body: list[tuple[str, str]],
        token: str,
        idempotent: bool,
        shown: _Shown,
        *,
        raw_limit: int | None = None,
    ) -> Response:
        failures = throttles = 0
        while True:
            self.limiter.acquire()
            self._counters.add("requests")
            started = time.monotonic()
            try:
                answer = self.session.request(
                    method,
                    url,
                    params=query or None,
                    data=body or None,
                    auth=_Bearer(token),
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=raw_limit is not None,
                )
                content = _bounded(answer, raw_limit, shown) if raw_limit is not None else None
            except CanvasError:
                self.limiter.release()  # a file refused for its size: its slot goes back
                raise
            except (requests.ConnectionError, requests.Timeout, *_DROPPED) as exc:
                self.limiter.release()
                self._counters.add("transport_errors")
                reason = _reason(exc)
                log.debug("%s %s failed after %.3fs: %s", method, shown, time.monotonic() - started, reason)
                if (idempotent or _never_sent(exc)) and failures < self.retries:
                    failures += 1
                    self._retry_sleep(failures, method, shown, reason)
                    continue
                raise TransportError(reason, method=method, path=str(shown)) from None
            status = answer.status_code
            text = answer.text if status >= 400 else ""
            throttled = status in {403, 429} and is_throttle(status, text)
            cost = _float(answer.headers.get("X-Request-Cost"))
            self.limiter.release(
                remaining=_float(answer.headers.get("X-Rate-Limit-Remaining")), throttled=throttled, cost=cost
            )
            if cost:
                self._counters.add("request_cost", cost)
            log.debug("%s %s -> %s in %.3fs", method, shown, status, time.monotonic() - started)
            if throttled:
                self._counters.add("throttled")
                if throttles < self.throttle_retries:
                    throttles += 1
                    self._counters.add("retries")
                    asked = _retry_after(answer.headers.get("Retry-After"))
                    pause = self.limiter.pause_all(throttles, at_least=asked or 0.0)
                    self._counters.add("waited", pause)
                    log.info(
                        "%s %s throttled by Canvas (%s%s); all requests pause %.1f s%s, throttle retry %d of %d",
                        method,
                        shown,
                        status,
                        _remaining(answer.headers),
                        pause,
                        _asked(asked),
                        throttles,
                        self.throttle_retries,
                    )
                    continue
                raise Throttled(
                    f"still throttled after {throttles} retries",
                    status=status,
                    method=method,
                    path=str(shown),
                    canvas_message=redact(text.strip(), token)[:200] or None,
                )
            if status in RETRY_STATUSES:
                self._counters.add("server_errors")
                if idempotent and failures < self.retries:
                    failures += 1
                    asked = _retry_after(answer.headers.get("Retry-After"))
                    self._retry_sleep(failures, method, shown, f"Canvas answered {status}", at_least=asked)
                    continue
            if raw_limit is not None and 300 <= status < 400 and answer.headers.get("Location"):
                return Response(status, None, {}, answer.headers)
            if raw_limit is not None and status < 300:
                return Response(status, content, {}, answer.headers)
            if status >= 400 or 300 <= status < 400:
                raise error_for_response(
                    status, method=method, path=str(shown), body=redact(text, token), retries=failures
                )
            return Response(status, _json(answer, method, shown), _links(answer), answer.headers)

    def _retry_sleep(
        self, attempt: int, method: str, shown: _Shown, reason: str, *, at_least: float | None = None
    ) -> None:
        self._counters.add("retries")
        delay = max(self.limiter.backoff_delay(attempt), at_least or 0.0)
        self._counters.add("waited", delay)
        log.info(
            "%s %s: %s; retry %d of %d in %.1f s%s",
            method,
            shown,
            reason,
            attempt,
            self.retries,
            delay,
            _asked(at_least),
        )
        self.limiter.sleep(delay)

    # -- pagination ------------------------------------------------------------------

    def pages(self, path: str, *, params: Params = None) -> Iterator[Response]:
        """GET ``path`` and every following page, following ``Link: rel="next"`` verbatim.

        The next URL already carries every filter (Canvas copies them, dropping only
        the token, which lives in the header here), so it is requested as given.
        """
        url: str | None = path
        query: Params = params
        seen: set[str] = set()
        while url is not None:
            page = self.request("GET", url, params=query)
            self._counters.add("pages")
            yield page
            query = None if not _has_token(params) else [("access_token", _token_of(params))]
            following = page.links.get("next")
            if following is not None and following in seen:
                raise CanvasError(
                    "pagination loop: Canvas sent the same next link twice", method="GET", path=following
                )
            if following is not None:
                seen.add(following)
            url = following

    # -- helpers ---------------------------------------------------------------------

    def _url(self, path_or_url: str) -> tuple[str, str | None]:
        if path_or_url.startswith(("http://", "https://")):
            if _origin(path_or_url) != self._origin:
                raise CanvasError(
                    f"refusing to send the token to {_origin(path_or_url)} (configured {self._origin})",
                    path=strip_secrets(path_or_url),
                )
            url = path_or_url
        else:
            url = self.base_url + ("" if path_or_url.startswith("/") else "/") + path_or_url
        parts = urlsplit(url)
        if "access_token" not in parts.query:
            return url, None
        kept, token = [], None
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "access_token":
                token = value or None
            else:
                kept.append((key, value))
        return urlunsplit(parts._replace(query=urlencode(kept))), token


def _settle_environment(session: requests.Session, base_url: str) -> None:
    """Read proxy and CA-bundle settings from the environment once, then stop requests from
    re-reading the whole environment on every request (about 0.6 ms each). TLS verification
    stays on: a CA bundle from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replaces the default
    trust store, it never disables checking."""
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle if bundle else True
    session.trust_env = False  # also keeps ~/.netrc from touching the Authorization header


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def _pairs(params: Params) -> tuple[list[tuple[str, str]], str | None]:
    """Rails-style flat params as (key, text) pairs; lists repeat the key. Returns the
    pairs without any ``access_token`` and that token separately."""
    if not params:
        return [], None
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    token = None
    for key, value in items:
        if key == "access_token":
            token = str(value) if value else None
            continue
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        for item in values:
            pairs.append((key, _text(key, item)))
    return pairs, token


def _text(key: str, value: Any) -> str:
    if value is None:
        return ""  # Rails reads a blank value as nil: "clear this attribute"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (dict, list)):
        raise ValueError(f"parameter {key!r} has an unresolved structured value")
    return str(value)


def _has_token(params: Params) -> bool:
    return _token_of(params) is not None


def _token_of(params: Params) -> str | None:
    return _pairs(params)[1]


class _Shown:
    """The request's path and query as logs and errors show it (no secrets), built on demand."""

    __slots__ = ("_query", "_text", "_url")

    def __init__(self, url: str, query: list[tuple[str, str]]) -> None:
        self._url, self._query, self._text = url, query, ""

    def __str__(self) -> str:
        if not self._text:
            parts = urlsplit(self._url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if self._query:
                path += ("&" if parts.query else "?") + urlencode(self._query, safe="[]:")
            self._text = strip_secrets(path)
        return self._text


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date, RFC 9110
    §10.2.3), at most :data:`MAX_RETRY_AFTER`; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _asked(retry_after: float | None) -> str:
    return f" (Retry-After asked {retry_after:.0f} s)" if retry_after is not None else ""


def _remaining(headers: Mapping[str, str]) -> str:
    remaining = headers.get("X-Rate-Limit-Remaining")
    return f", X-Rate-Limit-Remaining {remaining}" if remaining is not None else ""


def _never_sent(exc: Exception) -> bool:
    """True when the request cannot have reached Canvas (safe to repeat any method)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolutionError" in text


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out" + (
            " connecting" if isinstance(exc, requests.ConnectTimeout) else " waiting for Canvas"
        )
    if isinstance(exc, _DROPPED):
        return "connection dropped while reading the answer"
    if "refused" in repr(exc):
        return "connection refused"
    return "connection failed (" + type(exc).__name__ + ")"


def _bounded(answer: requests.Response, limit: int, shown: _Shown) -> bytes:
    """The body of a streamed answer, read in chunks; a file past ``limit`` bytes is refused
    before more of it is held (its Content-Length, when sent, is checked first)."""
    try:
        declared = int(answer.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit or answer.status_code >= 300:
        # an error body is small and read by .text; a refused file is never read
        if declared > limit:
            answer.close()
            raise CanvasError(
                f"the file is {declared:,} bytes, above the limit of {limit:,}", path=str(shown)
            )
        return b""
    chunks, size = [], 0
    for chunk in answer.iter_content(chunk_size=1 << 16):
        size += len(chunk)
        if size > limit:
            answer.close()
            raise CanvasError(f"the file is above the limit of {limit:,} bytes", path=str(shown))
        chunks.append(chunk)
    return b"".join(chunks)


def _fetch_elsewhere(session: requests.Session, url: str, *, timeout: Any, max_bytes: int) -> bytes:
    """A file Canvas redirected to its file store: fetched without the token, bounded."""
    shown = _Shown(url.split("?", 1)[0], [])
    try:
        with requests.get(url, timeout=timeout, stream=True, allow_redirects=True) as answer:
            if answer.status_code >= 400:
                raise CanvasError(
                    f"the file store answered {answer.status_code}",
                    status=answer.status_code,
                    path=str(shown),
                )
            return _bounded(answer, max_bytes, shown)
    except (requests.ConnectionError, requests.Timeout, *_DROPPED) as exc:
        raise TransportError(_reason(exc), method="GET", path=str(shown)) from None


def _json(answer: requests.Response, method: str, shown: _Shown) -> Any:
    if not answer.content:
        return {}
    try:
        return answer.json()
    except (ValueError, json.JSONDecodeError):
        raise CanvasError(
            f"answer was not JSON (Content-Type {answer.headers.get('Content-Type')!r})",
            status=answer.status_code,
            method=method,
            path=str(shown),
        ) from None


def _links(answer: requests.Response) -> dict[str, str]:
    return parse_link_header(link_header(answer.headers))
