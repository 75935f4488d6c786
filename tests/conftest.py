"""Shared pytest fixtures: the Canvas simulator serving the example university.

``university`` (function-scoped) gives every test that asks for it a simulator in its
initial state: one server per test session (``examples/sim/university.yaml`` on a free
127.0.0.1 port), reset to the seed before each test, so tests never see each other's
writes, stats, throttle buckets or fault settings. It yields a :class:`University`:

- ``url``: base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``;
- ``token``: the root-account admin token (``demo-admin-token``);
- ``teacher_token``, ``student_token`` (invited), ``active_student_token``, ``ta_token``
  (section-limited TA), ``observer_token``: user tokens from the seed;
- ``simulator``: the :class:`reconcile.sim.Simulator` (``enrollments()``, ``stats()``,
  ``set_faults(...)``, ``reset()``).

The throttle is on with Canvas's defaults, as against real Canvas; a test that needs a
quiet server can call ``university.simulator.set_faults(throttle="off")`` (undone by
the next reset).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconcile.sim import Simulator

UNIVERSITY_SEED = Path(__file__).resolve().parent.parent / "examples" / "sim" / "university.yaml"


@dataclass(frozen=True)
class University:
    """A served simulator of the example university (see the module docstring)."""

    url: str
    token: str
    simulator: Simulator
    teacher_token: str = "demo-teacher-token"
    student_token: str = "demo-student-token"
    active_student_token: str = "demo-active-student-token"
    ta_token: str = "demo-ta-token"
    observer_token: str = "demo-observer-token"


@pytest.fixture(scope="session")
def _university_server() -> Iterator[tuple[Simulator, str]]:
    simulator = Simulator.from_seed(UNIVERSITY_SEED)
    with simulator.serve() as url:
        yield simulator, url


@pytest.fixture
def university(_university_server: tuple[Simulator, str]) -> University:
    """The example university, served and reset to its seed for this test."""
    simulator, url = _university_server
    simulator.reset()
    return University(url=url, token="demo-admin-token", simulator=simulator)
