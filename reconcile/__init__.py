"""canvas-reconcile: a declarative roster reconciler for Canvas LMS enrollments.

The public Python API is listed in ``__all__``; everything else is internal. The data flow
(DESIGN §2) in library calls::

    config = load_config("reconcile.yaml")
    with CanvasClient.from_env(config.canvas) as client:
        plan, roster = make_plan(["enrollments.csv"], config=config, client=client)
        print(render(plan, "text"))
        result = apply_plan(plan, client=client, config=config)

Names are imported lazily (PEP 562), so ``import reconcile.planner`` does not drag in the
HTTP client and the pure modules stay free of I/O imports.
"""

from __future__ import annotations

import importlib as _importlib
from typing import Any as _Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Config": "reconcile.config",
    "ConfigError": "reconcile.config",
    "load_config": "reconcile.config",
    "load_rosters": "reconcile.roster",
    "RosterResult": "reconcile.roster",
    "Problem": "reconcile.roster",
    "CanvasClient": "reconcile.canvas",
    "CanvasError": "reconcile.canvas",
    "build_plan": "reconcile.planner",
    "fingerprint": "reconcile.planner",
    "make_plan": "reconcile.pipeline",
    "load_plan": "reconcile.pipeline",
    "save_plan": "reconcile.pipeline",
    "Plan": "reconcile.plan",
    "Operation": "reconcile.plan",
    "Action": "reconcile.plan",
    "plan_to_json": "reconcile.plan",
    "plan_from_json": "reconcile.plan",
    "render": "reconcile.render",
    "apply_plan": "reconcile.apply",
    "ApplyResult": "reconcile.apply",
    "Simulator": "reconcile.sim",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> _Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reconcile' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
