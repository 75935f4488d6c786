"""Canvas pagination (facts §8): per_page, bookmarks, numeric pages and the Link header."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from reconcile.sim import errors
from reconcile.sim.model import collation_key
from reconcile.sim.params import Params, ruby_to_i, to_query
from reconcile.sim.store import SortKey

PER_PAGE = 10
MAX_PER_PAGE = 100
_DROPPED = ("page", "per_page", "access_token", "api_key")
LINK_BUDGET = 6 * 1024


def per_page(params: Params) -> int:
    """``per_page.to_i`` clamped to 1..100; 10 when absent."""
    raw = params.get("per_page")
    if raw is None or isinstance(raw, list | dict):
        return PER_PAGE
    return max(1, min(MAX_PER_PAGE, ruby_to_i(raw)))


def encode_bookmark(key: SortKey, sortable_name: str) -> str:
    """``bookmark:`` + base64url JSON of [type, sortable_name, id], unpadded."""
    raw = json.dumps([key[0], sortable_name, key[2]], separators=(",", ":")).encode()
    return "bookmark:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page(params: Params) -> SortKey | None:
    """The sort key to continue after; None for the first page.

    ``first``, ``1``, a missing page or a bookmark that does not decode mean the first
    page; a numeric page above 1 is Canvas's InvalidPage, answered 404.
    """
    page = params.get("page")
    if page is None or page in ("first", "1", 1):
        return None
    text = str(page)
    if text.isdigit():
        raise errors.not_found()
    if not text.startswith("bookmark:"):
        return None
    token = text[len("bookmark:") :]
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        kind, name, ident = data
        return (str(kind), collation_key(str(name)), int(ident))
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class LinkBase:
    """The absolute URL of the list and the query parameters the links repeat."""

    url: str
    query: Params


def link_header(base: LinkBase, size: int, links: list[tuple[str, str]]) -> str:
    """``<url>; rel="x"`` entries joined by ``,`` in the order given (current, next, prev, first, last)."""
    repeated = {k: v for k, v in base.query.items() if k not in _DROPPED}
    prefix = to_query(repeated)
    entries: dict[str, str] = {}
    for rel, page in links:
        tail = to_query({"page": page}) + f"&per_page={size}"
        query = f"{prefix}&{tail}" if prefix else tail
        entries[rel] = f'<{base.url}?{query}>; rel="{rel}"'
    # Canvas caps the header near 6 KB, keeping links in this priority order.
    kept: set[str] = set()
    budget = LINK_BUDGET
    for rel in ("next", "last", "prev", "current", "first"):
        if rel in entries and len(entries[rel]) <= budget:
            kept.add(rel)
            budget -= len(entries[rel]) + 1
    return ",".join(entry for rel, entry in entries.items() if rel in kept)


def bookmark_links(base: LinkBase, size: int, current: str, next_page: str | None) -> str:
    links = [("current", current)]
    if next_page is not None:
        links.append(("next", next_page))
    links.append(("first", "first"))
    return link_header(base, size, links)


def numeric_page(params: Params) -> int:
    """A numeric page number (ordinal collections): ``page.to_i``, at least 1."""
    return max(1, ruby_to_i(params.get("page", 1)))


def numeric_links(base: LinkBase, size: int, page: int, total: int) -> str:
    last = max(1, -(-total // size))
    links: list[tuple[str, Any]] = [("current", str(page))]
    if page < last:
        links.append(("next", str(page + 1)))
    if page > 1:
        links.append(("prev", str(page - 1)))
    links.append(("first", "1"))
    links.append(("last", str(last)))
    return link_header(base, size, links)
