"""Request parameters the way Rails sees them: brackets, arrays, query + body merged.

``enrollment[user_id]=5&state[]=active&state[]=invited`` becomes
``{"enrollment": {"user_id": "5"}, "state": ["active", "invited"]}``. Form bodies parse
the same way; a JSON body is merged as it is. Body values win over the query string,
as in Rails' ``params``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote_plus

Params = dict[str, Any]
_KEY = re.compile(r"\A([^\[\]]+)((?:\[[^\[\]]*\])*)\Z")


class ParamError(ValueError):
    """A body that cannot be parsed (Rails answers 400 for these)."""


def _assign(target: Params, key: str, value: Any) -> None:
    match = _KEY.match(key)
    if not match:
        target[key] = value
        return
    head, rest = match.group(1), match.group(2)
    parts = [head] + re.findall(r"\[([^\[\]]*)\]", rest)
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following = parts[i + 1] if not last else None
        if last:
            if isinstance(node, dict):
                node[part] = value
            return
        if following == "":
            # key[] : an array of scalars (deeper nesting inside arrays is not used here)
            existing = node.get(part) if isinstance(node, dict) else None
            if not isinstance(existing, list):
                existing = []
                node[part] = existing
            existing.append(value)
            return
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child


def parse_query(text: str) -> Params:
    """Rails-style nested params from a query string or form body."""
    params: Params = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        _assign(params, key, value)
    return params


def parse_body(body: bytes, content_type: str) -> Params:
    """Params from a request body: JSON or form-encoded. Anything else is ignored."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or (not kind and body[:1] in (b"{", b"[")):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ParamError("body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ParamError("a JSON body must be an object")
        params: Params = {}
        for key, value in data.items():
            # JSON clients sometimes send Rails-style flat keys ("enrollment[user_id]").
            _assign(params, key, value) if "[" in key else params.__setitem__(key, value)
        return params
    if kind in ("application/x-www-form-urlencoded", ""):
        return parse_query(body.decode("utf-8", errors="replace"))
    return {}


def merge(query: Params, body: Params) -> Params:
    """Query params overlaid with body params (body wins, nested hashes merged)."""
    merged = dict(query)
    for key, value in body.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def ruby_to_i(value: Any) -> int:
    """Ruby's String#to_i: leading integer or 0 ("12abc" -> 12, "abc" -> 0)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    match = re.match(r"\s*([+-]?\d+)", str(value))
    return int(match.group(1)) if match else 0


def value_to_boolean(value: Any) -> bool | None:
    """Canvas's ``value_to_boolean``: true/false for the usual spellings, None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("yes", "true", "on", "1", "t", "y"):
            return True
        if text in ("no", "false", "off", "0", "f", "n", ""):
            return False
    return None


def as_list(value: Any) -> list[Any]:
    """A scalar or list param as a list (``type=X`` and ``type[]=X`` both work in Rails)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def is_blank(value: Any) -> bool:
    """Rails' ``blank?`` for param values."""
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def to_query(params: Params) -> str:
    """Rails ``to_query``: keys sorted, arrays as ``key%5B%5D=v``, nested as ``a%5Bb%5D=v``."""
    pairs: list[str] = []

    def emit(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                emit(f"{prefix}[{key}]", value[key])
        elif isinstance(value, list):
            for item in value:
                emit(f"{prefix}[]", item)
        else:
            text = (
                ""
                if value is None
                else ("true" if value is True else "false" if value is False else str(value))
            )
            pairs.append(f"{quote_plus(prefix)}={quote_plus(text)}")

    for key in sorted(params):
        emit(key, params[key])
    return "&".join(pairs)
