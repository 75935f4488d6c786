"""A faithful in-memory Canvas LMS serving the Enrollments API over HTTP on 127.0.0.1.

Standalone: it never imports the rest of ``reconcile`` beyond the schemas, so tests and
the demo can run it beside the client they exercise. Start it from Python::

    from reconcile.sim import Simulator
    sim = Simulator.from_seed("examples/sim/university.yaml", latency_ms=20, fault_seed=1)
    with sim.serve() as url:          # http://127.0.0.1:<free port>
        ...
        sim.enrollments(); sim.stats(); sim.reset(); sim.set_faults(error_rate=0.1)

or from the shell with ``reconcile sim serve --seed FILE`` (``reconcile sim generate``
writes a synthetic institution).

Served under ``/api/v1``: course, section and user enrollment lists (bookmark pages,
absolute Link headers), account enrollment show, POST create on courses and sections
(upsert and revival), bulk enrollment with its Progress, DELETE conclude/delete/
inactivate, accept, reject, reactivate, last_attended, temporary-enrollment status, the
account course list, the Users API (``GET /users/:id``), the Sections API with
cross-listing, and the User Observees API with the observer enrollments Canvas keeps in
step with observer links (:mod:`reconcile.sim.linked`), and the provisioning report's
enrollments CSV through the Reports API (:mod:`reconcile.sim.api_reports`). Bearer-token auth, Canvas's leaky-bucket throttle (403/429),
and injected faults (latency, 5xx, dropped connections, lost responses). Test-only
introspection under ``/__sim/`` (see :mod:`reconcile.sim.introspect`).

Module map: model (records), store (indexes, id lookups), seed (loading, validation),
dates (date-based state), auth (callers, rights), params/pagination/render/errors
(wire format), api_* (endpoints, one module per Canvas API area, as canvas-lms splits its
controllers), provisioning (the report's CSV), routes, throttle, faults, server (HTTP), simulator (the public class),
introspect (``/__sim/``), generate (synthetic institutions).
"""

from __future__ import annotations

from reconcile.sim.faults import FaultSettings
from reconcile.sim.seed import SeedError
from reconcile.sim.simulator import Simulator
from reconcile.sim.throttle import ThrottleSettings

__all__ = ["FaultSettings", "SeedError", "Simulator", "ThrottleSettings"]
