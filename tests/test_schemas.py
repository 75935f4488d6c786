"""Every published schema is a valid JSON Schema, reachable from the installed package."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconcile import schemas

ROOT = Path(__file__).resolve().parent.parent


def test_every_schema_file_is_published() -> None:
    on_disk = sorted(p.name.removesuffix(".schema.json") for p in (ROOT / "schemas").glob("*.schema.json"))
    assert on_disk == sorted(schemas.NAMES)


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_is_valid(name: str) -> None:
    document = schemas.load(name)
    validator = jsonschema.validators.validator_for(document)
    validator.check_schema(document)
    assert document.get("title"), f"{name} schema needs a title"
    assert json.dumps(document)  # serialisable as published by `reconcile schema`
