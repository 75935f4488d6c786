"""The published JSON Schemas (``schemas/*.schema.json``) and validation against them.

The files live in the repository's ``schemas/`` folder; the package reaches them through
``reconcile/_schemas`` (a link to that folder, copied into built wheels).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "_schemas"
NAMES = ("roster", "config", "plan", "sim-seed")


@cache
def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as a dict."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
