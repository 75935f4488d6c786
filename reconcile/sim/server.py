"""The HTTP front of the simulator: parsing, auth, throttle, faults, routing, stats.

A stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive. The order of the
stages is Canvas's: the throttle middleware runs before the app (so even a request with
a bad token pays its reservation), injected latency is served while the reservation is
held, and the handler runs under the store lock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from reconcile.sim import errors, introspect, routes
from reconcile.sim.auth import authenticate
from reconcile.sim.context import Request, Response
from reconcile.sim.faults import Faults
from reconcile.sim.params import ParamError, merge, parse_body, parse_query
from reconcile.sim.store import Store
from reconcile.sim.throttle import Throttle

_JSON = "application/json; charset=utf-8"


class Stats:
    """Request counters; read through ``/__sim/stats`` or ``Simulator.stats()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.routes: Counter[str] = Counter()
            self.statuses: Counter[int] = Counter()
            self.reads = self.writes = self.throttled = 0
            self.faults: Counter[str] = Counter()
            self.internal_errors: list[str] = []

    def record(self, key: str, write: bool, status: int) -> None:
        with self._lock:
            self.routes[key] += 1
            self.statuses[status] += 1
            if write:
                self.writes += 1
            else:
                self.reads += 1

    def count(self, what: str) -> None:
        with self._lock:
            if what == "throttled":
                self.throttled += 1
            else:
                self.faults[what] += 1

    def internal_error(self, trace: str) -> int:
        """Remember a handler crash; return its error report id."""
        with self._lock:
            self.internal_errors.append(trace)
            return len(self.internal_errors)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self.routes.items())),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "reads": self.reads,
                "writes": self.writes,
                "total": self.reads + self.writes,
                "throttled": self.throttled,
                "internal_errors": list(self.internal_errors),
                "faults": {
                    "errors": self.faults["errors"],
                    "drops": self.faults["drops"],
                    "lost_responses": self.faults["lost_responses"],
                    "delayed": self.faults["delayed"],
                },
            }


class Served(introspect.Controls, Protocol):
    """What the HTTP front needs from the simulator behind it (:class:`reconcile.sim.Simulator`).

    A protocol rather than an import, so the server and the simulator class do not import
    each other.
    """

    store: Store
    throttle: Throttle
    faults: Faults
    stats_counter: Stats
    unauthorized_status: int
    report_delay_s: float

    @property
    def url(self) -> str: ...


def _token(headers: Any, params: dict[str, Any]) -> str | None:
    auth = headers.get("Authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return ""
    value = params.get("access_token")
    return value if isinstance(value, str) else None


def stringify_ids(value: Any) -> Any:
    """Every ``id`` and ``*_id`` integer as a string (``Accept: application/json+canvas-string-ids``)."""
    if isinstance(value, list):
        return [stringify_ids(v) for v in value]
    if isinstance(value, dict):
        return {
            k: str(v)
            if (k == "id" or k.endswith("_id")) and isinstance(v, int) and not isinstance(v, bool)
            else stringify_ids(v)
            for k, v in value.items()
        }
    return value


class Handler(BaseHTTPRequestHandler):
    """One connection; ``server.simulator`` is the Simulator it serves."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK
    # would add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server_version = "CanvasSim/1.0"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging: the library never prints."""

    @property
    def sim(self) -> Served:
        return self.server.simulator  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._send(status, json.dumps(body, separators=(",", ":")).encode(), _JSON, headers)

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True
            self._send_json(400, errors.bad_request_generic().body, {})
            return
        body = self.rfile.read(length) if length else b""
        if split.path.startswith("/__sim/"):
            status, payload = introspect.handle(self.sim, method, split.path, body)
            self._send_json(status, payload, {})
            return
        sim = self.sim
        host = self.headers.get("Host") or self.sim.url.removeprefix("http://")
        base_url = f"http://{host}"
        try:
            query = parse_query(split.query)
            params = merge(query, parse_body(body, self.headers.get("Content-Type", "")))
        except ParamError:
            self._send_json(400, errors.bad_request_generic().body, {})
            return
        token = _token(self.headers, params)
        client = f"token:{token}" if token else f"ip:{self.client_address[0]}"
        throttle = sim.throttle
        if not throttle.reserve(client):
            sim.stats_counter.count("throttled")
            left = f"{max(0.0, throttle.remaining(client)):.1f}"
            settings = throttle.settings
            self._send(
                settings.status,
                settings.body().encode(),
                "text/plain; charset=utf-8",
                {"X-Rate-Limit-Remaining": left},
            )
            return
        decision = sim.faults.decide(f"{method} {self.path}")
        if decision.delay_s:
            sim.stats_counter.count("delayed")
            time.sleep(decision.delay_s)
        if decision.drop:
            sim.stats_counter.count("drops")
            throttle.settle(client, 0.0)
            self._hang_up()
            return
        if decision.error_status is not None:
            sim.stats_counter.count("errors")
            remaining = throttle.settle(client, throttle.cost(0))
            code = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable"}
            status = decision.error_status
            self._send_json(
                status,
                errors.generic(status, code[status]).body,
                {"X-Request-Cost": f"{throttle.cost(0)}", "X-Rate-Limit-Remaining": f"{remaining:.1f}"},
            )
            return
        response, write, key = self._dispatch(method, split.path, params, query, token, base_url)
        status, payload, raw, headers = response.status, response.body, response.raw, dict(response.headers)
        cost = throttle.cost(response.items)
        remaining = throttle.settle(client, cost)
        headers["X-Request-Cost"] = f"{cost}"
        headers["X-Rate-Limit-Remaining"] = f"{remaining:.1f}"
        sim.stats_counter.record(key, write, status)
        if decision.lose_response:
            sim.stats_counter.count("lost_responses")
            self._hang_up()
            return
        if response.content_type is not None:
            self._send(status, raw or b"", response.content_type, headers)
            return
        string_ids = "application/json+canvas-string-ids" in self.headers.get("Accept", "")
        if raw is not None and not string_ids:
            self._send(status, raw, _JSON, headers)
            return
        if raw is not None:
            payload = json.loads(raw)
        if string_ids:
            payload = stringify_ids(payload)
        self._send_json(status, payload, headers)

    def _hang_up(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        query: dict[str, Any],
        token: str | None,
        base_url: str,
    ) -> tuple[Response, bool, str]:
        """Route and run one API request: (answer, whether it is a write, its stats key)."""
        sim = self.sim
        found = routes.match(method, path)
        if not isinstance(found, routes.Match):
            error = errors.not_found()
            return (
                Response(error.body, status=error.status, headers=dict(error.headers)),
                method != "GET",
                f"{method} (unrouted)",
            )
        route = found.route
        store = sim.store
        try:
            with store.lock:
                caller = authenticate(store, token)
                request = Request(
                    store=store,
                    caller=caller,
                    method=method,
                    path_params=found.params,
                    raw_path_params=found.raw_params,
                    params=params,
                    query=query,
                    base_url=base_url,
                    unauthorized_status=sim.unauthorized_status,
                    report_delay_s=sim.report_delay_s,
                )
                response: Response = route.handler(request)
        except errors.ApiError as exc:
            return (
                Response(exc.body, status=exc.status, headers=dict(exc.headers)),
                route.write,
                route.stat_key,
            )
        except Exception:
            # A simulator bug: answer as Canvas does for an unhandled exception, and keep
            # the traceback for /__sim/stats so the test that hit it can show it.
            report_id = sim.stats_counter.internal_error(traceback.format_exc())
            body = {**errors.generic(500, "internal_server_error").body, "error_report_id": report_id}
            return Response(body, status=500), route.write, route.stat_key
        return response, route.write, route.stat_key


class SimServer(ThreadingHTTPServer):
    """ThreadingHTTPServer bound to a Simulator."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Served) -> None:
        self.simulator = simulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection-level failure (client went away mid-answer): not worth printing,
        and library code never prints."""

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Close the listener and every kept-alive connection, so a stopped simulator
        really stops answering (idle keep-alive threads would otherwise serve on)."""
        super().server_close()
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
