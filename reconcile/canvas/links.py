"""Parsing Canvas's ``Link`` header (facts §8).

Entries look like ``<URL>; rel="next"`` joined by ``,`` (Canvas puts no space after the
comma). URLs are opaque: bookmarks are base64 JSON and are followed exactly as given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ENTRY = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,<]*)*)")
_PARAM = re.compile(r"""([a-zA-Z*]+)\s*=\s*(?:"([^"]*)"|([^\s;,]+))""")


def parse_link_header(value: str | None) -> dict[str, str]:
    """``{rel: url}`` for every entry of a Link header value; ``{}`` for None or junk.

    A URL is taken verbatim between ``<`` and ``>`` (so commas inside it are safe); a
    ``rel`` with several space-separated values registers the URL under each. The first
    entry wins when a rel repeats.
    """
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _ENTRY.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for name, quoted, bare in _PARAM.findall(params):
            if name.lower() != "rel":
                continue
            for rel in (quoted or bare).lower().split():
                links.setdefault(rel, url)
    return links


def link_header(headers: Mapping[str, str]) -> str | None:
    """The Link header of ``headers`` whatever its case (requests' headers are case-insensitive,
    plain dicts are not)."""
    value = headers.get("Link")
    if value is not None:
        return value
    for name, text in headers.items():
        if name.lower() == "link":
            return text
    return None
