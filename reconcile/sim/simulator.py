"""The :class:`Simulator`: a seeded in-memory Canvas, served over HTTP on demand.

sim = Simulator.from_seed("examples/sim/university.yaml", latency_ms=20)
with sim.serve() as url:          # http://127.0.0.1:<free port>
    ...                           # speak the Enrollments API to url
    sim.stats(); sim.reset(); sim.set_faults(error_rate=0.1, report_delay_s=0)
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconcile.sim.faults import Faults, FaultSettings
from reconcile.sim.model import now_utc, parse_time, raw_enrollment
from reconcile.sim.seed import build_store, read_seed, validate_seed
from reconcile.sim.server import SimServer, Stats
from reconcile.sim.store import Store
from reconcile.sim.throttle import Throttle, ThrottleSettings

_FAULT_KNOBS = {f.name for f in dataclasses.fields(FaultSettings)}
_REPORT_KNOBS = {"report_delay_s"}
# How long an account report takes from POST to complete, unless told (about what a small
# provisioning report takes on a quiet Canvas; tests set 0 or a fraction of a second).
DEFAULT_REPORT_DELAY_S = 2.0
_THROTTLE_KNOBS = {
    "throttle",
    "throttle_status",
    "request_cost",
    "item_cost",
    "hwm",
    "maximum",
    "outflow",
    "up_front_cost",
}


def _report_delay(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ValueError("report_delay_s must be a number >= 0")
    return float(value)


def _copy_seed(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller cannot change under us (reset() rebuilds from it).

    Seeds are lists of flat rows, so copying each row is enough, and ten times faster
    than deepcopy on 100k enrollments; anything else falls back to deepcopy.
    """
    copied: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            copied[key] = [
                dict(row) if not any(isinstance(v, dict | list) for v in row.values()) else copy.deepcopy(row)
                for row in value
            ]
        else:
            copied[key] = copy.deepcopy(value)
    return copied


def seed_clock(seed: dict[str, Any]) -> Callable[[], dt.datetime]:
    """The wall clock, or one that starts at the seed's ``now`` and runs forward from there."""
    start = parse_time(seed.get("now"))
    if start is None:
        return now_utc
    origin = time.monotonic()

    def clock() -> dt.datetime:
        return (start + dt.timedelta(seconds=time.monotonic() - origin)).replace(microsecond=0)

    return clock


class Simulator:
    """A Canvas instance in memory. Thread-safe; serve it at most once at a time."""

    def __init__(
        self,
        seed: dict[str, Any],
        *,
        faults: FaultSettings | None = None,
        throttle: ThrottleSettings | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        unauthorized_status: int = 403,
        report_delay_s: float = DEFAULT_REPORT_DELAY_S,
        validated: bool = False,
    ) -> None:
        if not validated:
            validate_seed(seed)
        self._seed = seed
        self._clock = clock or seed_clock(seed)
        self.store: Store = build_store(seed, clock=self._clock, validate=False)
        self._initial = (faults or FaultSettings(), throttle or ThrottleSettings())
        self.faults = Faults(self._initial[0])
        self.throttle = Throttle(self._initial[1])
        self.unauthorized_status = unauthorized_status
        self.report_delay_s = _report_delay(report_delay_s)
        self._initial_report_delay_s = self.report_delay_s
        self.stats_counter = Stats()
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_seed(
        cls,
        source: str | Path | dict[str, Any],
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        lost_response_rate: float = 0.0,
        fault_seed: int | None = None,
        throttle: bool = True,
        throttle_status: int = 429,
        request_cost: float = 1.0,
        item_cost: float = 0.01,
        clock: Callable[[], dt.datetime] | None = None,
        unauthorized_status: int = 403,
        report_delay_s: float = DEFAULT_REPORT_DELAY_S,
    ) -> Simulator:
        """A simulator holding the seed at ``source`` (YAML/JSON path or dict); SeedError if invalid."""
        if throttle_status not in (403, 429):
            raise ValueError("throttle_status must be 403 or 429")
        doc = read_seed(source)
        if isinstance(source, dict):
            doc = _copy_seed(doc)
        validate_seed(doc)
        return cls(
            doc,
            faults=FaultSettings(
                latency_ms, jitter_ms, error_rate, drop_rate, lost_response_rate, fault_seed
            ),
            throttle=ThrottleSettings(
                enabled=throttle, status=throttle_status, request_cost=request_cost, item_cost=item_cost
            ),
            clock=clock,
            unauthorized_status=unauthorized_status,
            report_delay_s=report_delay_s,
            validated=True,
        )

    # -- serving -----------------------------------------------------------------
    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL (no trailing slash)."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("this simulator is already serving")
            self._server = SimServer((host, port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="canvas-sim",
                daemon=True,
            )
            self._thread.start()
            return self.url

    def stop(self) -> None:
        """Stop serving and close the listening socket. Safe to call twice."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @contextmanager
    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """``with sim.serve() as url:`` serve for the duration of the block."""
        url = self.start(host=host, port=port)
        try:
            yield url
        finally:
            self.stop()

    def serve_forever(
        self, *, host: str = "127.0.0.1", port: int = 0, ready: Callable[[str], None] | None = None
    ) -> None:
        """Serve on the calling thread until :meth:`stop` is called from elsewhere."""
        with self._lock:
            self._server = SimServer((host, port), self)
        if ready is not None:
            ready(self.url)
        server = self._server
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
            with self._lock:
                self._server = None

    def request_stop(self) -> None:
        """Ask a :meth:`serve_forever` loop to end (from a signal handler's thread)."""
        server = self._server
        if server is not None:
            threading.Thread(target=server.shutdown, daemon=True).start()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not serving")
        address = self._server.server_address
        return f"http://{address[0]!s}:{address[1]!s}"

    # -- introspection -------------------------------------------------------------
    def enrollments(self) -> list[dict[str, Any]]:
        """Every enrollment row, raw (deleted included), in id order."""
        store = self.store
        with store.lock:
            return [raw_enrollment(store.enrollments[i]) for i in sorted(store.enrollments)]

    def stats(self) -> dict[str, Any]:
        """Request counts per ``METHOD /route/:id`` pattern, reads, writes, throttled, faults."""
        return self.stats_counter.snapshot()

    def reset(self) -> None:
        """Back to the start: the seed's data, zero stats, empty throttle buckets, and the
        fault, throttle and report-delay settings the simulator was created with."""
        fresh = build_store(self._seed, clock=self._clock, validate=False)
        with self.store.lock:
            self.store = fresh
        self.stats_counter.reset()
        self.throttle.settings = self._initial[1]
        self.throttle.reset()
        self.faults.settings = self._initial[0]
        self.faults.reset()
        self.report_delay_s = self._initial_report_delay_s

    def set_faults(self, **knobs: Any) -> None:
        """Change fault/throttle knobs at run time: latency_ms, jitter_ms, error_rate, drop_rate,
        lost_response_rate, seed, throttle (bool or "on"/"off"), throttle_status (403|429), request_cost, item_cost,
        hwm, maximum, outflow, up_front_cost; and report_delay_s (seconds from an account report's
        POST to its completion, for reports started from then on). Unknown names raise TypeError."""
        unknown = set(knobs) - _FAULT_KNOBS - _THROTTLE_KNOBS - _REPORT_KNOBS
        if unknown:
            raise TypeError(f"unknown fault knobs: {sorted(unknown)}")
        report_delay = _report_delay(knobs["report_delay_s"]) if "report_delay_s" in knobs else None
        fault_changes = {k: v for k, v in knobs.items() if k in _FAULT_KNOBS}
        for name in ("latency_ms", "jitter_ms", "error_rate", "drop_rate", "lost_response_rate"):
            if name in fault_changes and (
                not isinstance(fault_changes[name], int | float) or fault_changes[name] < 0
            ):
                raise ValueError(f"{name} must be a number >= 0")
        if fault_changes:
            self.faults.settings = dataclasses.replace(self.faults.settings, **fault_changes)
            self.faults.reset()
        changes: dict[str, Any] = {k: v for k, v in knobs.items() if k in _THROTTLE_KNOBS}
        if "throttle" in changes:
            value = changes.pop("throttle")
            changes["enabled"] = value if isinstance(value, bool) else str(value).lower() == "on"
        if "throttle_status" in changes:
            status = int(changes.pop("throttle_status"))
            if status not in (403, 429):
                raise ValueError("throttle_status must be 403 or 429")
            changes["status"] = status
        if changes:
            self.throttle.settings = dataclasses.replace(self.throttle.settings, **changes)
        if report_delay is not None:
            self.report_delay_s = report_delay

    def fault_knobs(self) -> dict[str, Any]:
        """The current fault, throttle and report-delay settings."""
        f, t = self.faults.settings, self.throttle.settings
        return {
            **dataclasses.asdict(f),
            "throttle": t.enabled,
            "throttle_status": t.status,
            "request_cost": t.request_cost,
            "item_cost": t.item_cost,
            "hwm": t.hwm,
            "maximum": t.maximum,
            "outflow": t.outflow,
            "up_front_cost": t.up_front_cost,
            "report_delay_s": self.report_delay_s,
        }
