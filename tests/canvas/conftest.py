"""Fixtures for the Canvas client tests (helpers live in canvas_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from canvas_helpers import ADMIN, FakeTime, ScriptedServer, university_seed

from reconcile.canvas import CanvasClient
from reconcile.sim import Simulator


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


class Served:
    def __init__(self, simulator: Simulator, url: str) -> None:
        self.simulator = simulator
        self.url = url

    def client(self, token: str = ADMIN, **options: Any) -> CanvasClient:
        options.setdefault("timeout", 5.0)
        return CanvasClient(self.url, token, **options)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(seed=None, **sim_options)`` starts a simulator on 127.0.0.1 (throttle off
    unless asked) and stops it after the test."""
    with ExitStack() as stack:

        def start(seed: dict[str, Any] | None = None, **options: Any) -> Served:
            options.setdefault("throttle", False)
            simulator = Simulator.from_seed(seed or university_seed(), **options)
            url = stack.enter_context(simulator.serve())
            return Served(simulator, url)

        yield start


@pytest.fixture
def uni(serve: Callable[..., Served]) -> Served:
    return serve()
