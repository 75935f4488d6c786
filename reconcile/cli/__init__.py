"""The ``reconcile`` command line.

Only this package prints or prompts. Each sub-command lives in its own module and is
imported lazily, so ``reconcile --help`` stays fast and one broken command cannot take
the others down.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from reconcile import __version__

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "sim": "reconcile.cli.sim:sim",
    "export": "reconcile.cli.export:export",
    "validate": "reconcile.cli.validate:validate",
    "plan": "reconcile.cli.plan:plan",
    "show": "reconcile.cli.plan:show",
    "apply": "reconcile.cli.apply:apply",
    "history": "reconcile.cli.apply:history",
    "demo": "reconcile.cli.demo:demo",
    "schema": "reconcile.cli.schema:schema",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _importable(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                return None
            raise
        command: Any = getattr(module, attr)
        return command  # type: ignore[no-any-return]


def _importable(name: str) -> bool:
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
def cli() -> None:
    """Plan and apply Canvas LMS enrollments from a roster (SIS CSV, YAML or OneRoster)."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="reconcile")
