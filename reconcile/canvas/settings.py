"""Where the client connects and with which token: arguments, ``CanvasSettings`` or environment.

Rules (DESIGN §8): ``CANVAS_API_URL`` overrides the config file, the token comes only
from ``CANVAS_API_TOKEN`` (or an argument from code), ``http://`` is refused except for
loopback hosts, and TLS verification is never turned off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from reconcile.canvas.errors import ConfigError

ENV_URL = "CANVAS_API_URL"
ENV_TOKEN = "CANVAS_API_TOKEN"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_base_url(url: str | None) -> tuple[str, str | None]:
    """``(base_url, token_in_url)`` from a Canvas URL as a user may write it.

    The base is ``scheme://host[:port]`` plus any path prefix, without a trailing ``/``
    or ``/api/v1``. An ``access_token`` in the query is taken out and returned so it can
    travel in the Authorization header instead. Raises :class:`ConfigError` for a missing
    or malformed URL and for ``http://`` to anything but a loopback host.
    """
    if not url or not url.strip():
        raise ConfigError(f"no Canvas URL: set {ENV_URL} or canvas.url in the config")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"Canvas URL must look like https://canvas.example.edu, got {_safe(url)!r}")
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the token would travel unencrypted; use https://"
        )
    if parts.username or parts.password:
        raise ConfigError("Canvas URL must not carry a user name or password")
    token = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "access_token" and value:
            token = value
    prefix = parts.path.rstrip("/")
    if prefix.endswith("/api/v1"):
        prefix = prefix[: -len("/api/v1")]
    base = urlunsplit((scheme, parts.netloc.lower(), prefix, "", ""))
    return base, token


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment="")) if parts.query else url


def resolve(
    *,
    url: str | None,
    token: str | None,
    env: Mapping[str, str],
) -> tuple[str, str]:
    """``(base_url, token)``: the environment's URL wins over ``url``; the token comes from
    ``token`` (code), else ``CANVAS_API_TOKEN``, else an ``access_token`` in the URL."""
    base, url_token = normalize_base_url(env.get(ENV_URL) or url)
    chosen = token or env.get(ENV_TOKEN) or url_token
    if not chosen or not chosen.strip():
        raise ConfigError(f"no Canvas API token: set {ENV_TOKEN} in the environment")
    if any(ch.isspace() for ch in chosen.strip()):
        raise ConfigError(f"{ENV_TOKEN} contains whitespace; it must be the bare token")
    return base, chosen.strip()
