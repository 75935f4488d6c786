"""A faithful in-memory Canvas LMS serving the Enrollments API over HTTP on 127.0.0.1.

Standalone: it never imports the rest of ``reconcile`` beyond the schemas, so tests and
the demo can run it beside the client they exercise. Start it from Python::

    from reconcile.sim import Simulator
    with Simulator.from_seed("examples/sim/university.yaml").serve() as url:
        ...

or from the shell with ``reconcile sim serve --seed FILE``.
"""

from __future__ import annotations

from reconcile.sim.faults import FaultSettings
from reconcile.sim.seed import SeedError
from reconcile.sim.simulator import Simulator
from reconcile.sim.throttle import ThrottleSettings

__all__ = ["FaultSettings", "SeedError", "Simulator", "ThrottleSettings"]
