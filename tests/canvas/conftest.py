"""Fixtures for the Canvas client tests (helpers live in canvas_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from canvas_helpers import FakeTime, ScriptedServer


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
