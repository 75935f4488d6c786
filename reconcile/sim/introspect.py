"""Test-only endpoints under ``/__sim/``: no token, never throttled or faulted.

- ``GET /__sim/enrollments``: every row, raw, deleted included.
- ``GET /__sim/stats``: ``requests`` (count per ``METHOD /api/v1/.../:id/...`` pattern),
  ``statuses``, ``reads``, ``writes``, ``total`` (requests that reached the API: not
  throttled, not failed or dropped by a fault; lost responses are counted, they ran),
  ``throttled``, ``faults`` (errors, drops, lost_responses, delayed) and
  ``internal_errors`` (tracebacks of simulator bugs; should stay empty).
- ``POST /__sim/reset``: back to the seed, stats and buckets zeroed.
- ``GET|PUT /__sim/faults``: read or change the fault and throttle knobs, and
  ``report_delay_s`` (seconds an account report takes to complete), with a JSON body such
  as ``{"report_delay_s": 0.5}``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class Controls(Protocol):
    """What the introspection endpoints need from the simulator they serve."""

    def enrollments(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def fault_knobs(self) -> dict[str, Any]: ...
    def set_faults(self, **knobs: Any) -> None: ...


def handle(sim: Controls, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """Answer one introspection request: (status, JSON body)."""
    if path == "/__sim/enrollments" and method == "GET":
        return 200, sim.enrollments()
    if path == "/__sim/stats" and method == "GET":
        return 200, sim.stats()
    if path == "/__sim/reset" and method == "POST":
        sim.reset()
        return 200, {"reset": True}
    if path == "/__sim/faults" and method == "GET":
        return 200, sim.fault_knobs()
    if path == "/__sim/faults" and method in ("PUT", "POST"):
        try:
            knobs = json.loads(body or b"{}")
            if not isinstance(knobs, dict):
                raise ValueError("the body must be a JSON object")
            sim.set_faults(**knobs)
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}
        return 200, sim.fault_knobs()
    return 404, {"errors": [{"message": "The specified resource does not exist."}]}
