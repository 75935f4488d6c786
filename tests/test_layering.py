"""Meta-tests that keep the layering of DESIGN §2 honest.

Each check imports a module in a fresh interpreter and looks at what else got imported,
so a transitive import through a helper module is caught too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconcile"

PURE_MODULES = [
    "reconcile.frames",
    "reconcile.ids",
    "reconcile.plan",
    "reconcile.roster",
    "reconcile.planner",
    "reconcile.render",
]
FORBIDDEN_IN_PURE = ["requests", "urllib3", "click", "reconcile.sim", "reconcile.canvas", "reconcile.cli"]
FORBIDDEN_IN_SIM = ["reconcile.canvas", "reconcile.roster", "reconcile.planner", "reconcile.apply"]


def _imported_by(module: str) -> set[str]:
    code = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def _exists(module: str) -> bool:
    parts = module.split(".")
    path = ROOT.joinpath(*parts)
    return path.is_dir() or path.with_suffix(".py").exists()


@pytest.mark.parametrize("module", [m for m in PURE_MODULES if _exists(m)])
def test_pure_modules_do_no_io_imports(module: str) -> None:
    loaded = _imported_by(module)
    offenders = sorted(
        name for name in loaded for bad in FORBIDDEN_IN_PURE if name == bad or name.startswith(bad + ".")
    )
    assert not offenders, f"{module} pulls in {offenders}"


def test_simulator_is_standalone() -> None:
    loaded = _imported_by("reconcile.sim")
    offenders = sorted(
        name for name in loaded for bad in FORBIDDEN_IN_SIM if name == bad or name.startswith(bad + ".")
    )
    assert not offenders, f"reconcile.sim pulls in {offenders}"


def test_only_the_cli_prints() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "cli" or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"print", "input"}
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"library code must not print or prompt: {offenders}"


def test_public_api_is_explicit() -> None:
    import reconcile

    assert isinstance(reconcile.__all__, list)
    assert reconcile.__all__, "reconcile.__all__ must name the public API"
    missing = [name for name in reconcile.__all__ if not hasattr(reconcile, name)]
    assert not missing, f"__all__ names missing attributes: {missing}"
    public = {
        name for name in vars(reconcile) if not name.startswith("_") and not _is_submodule(reconcile, name)
    }
    undeclared = sorted(public - set(reconcile.__all__) - {"annotations"})
    assert not undeclared, f"public names not in __all__: {undeclared}"


def test_importing_the_package_is_cheap_and_lazy() -> None:
    loaded = _imported_by("reconcile")
    heavy = sorted(
        name for name in loaded if name.split(".")[0] in {"requests", "pandas", "click", "urllib3"}
    )
    assert not heavy, f"import reconcile pulls in {heavy}"


def _is_submodule(package: object, name: str) -> bool:
    import types

    return isinstance(getattr(package, name), types.ModuleType)
