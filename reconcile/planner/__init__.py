"""The planner: desired × current Canvas state × config -> a reviewed, versioned plan.

Pure: no I/O, no printing; never imports the Canvas client or the simulator. The entry
points are :func:`build_plan` and :func:`fingerprint` (apply's stale check calls the
same function over the state it re-fetches).
"""

from __future__ import annotations

from reconcile.planner.core import amend, build_plan
from reconcile.planner.fingerprint import fingerprint

__all__ = ["amend", "build_plan", "fingerprint"]
