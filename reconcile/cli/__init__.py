"""The ``reconcile`` command line.

Only this package prints or prompts. Each sub-command lives in its own module and is
imported lazily, so ``reconcile --help`` stays fast and one broken command cannot take
the others down.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from reconcile import __version__, exitcodes

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "sim": "reconcile.cli.sim:sim",
    "export": "reconcile.cli.export:export",
    "validate": "reconcile.cli.validate:validate",
    "plan": "reconcile.cli.plan:plan",
    "show": "reconcile.cli.plan:show",
    "apply": "reconcile.cli.apply:apply",
    "history": "reconcile.cli.apply:history",
    "claim": "reconcile.cli.claim:claim",
    "drift": "reconcile.cli.drift:drift",
    "undo": "reconcile.cli.undo:undo",
    "demo": "reconcile.cli.tour:demo",
    "schema": "reconcile.cli.schema:schema",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when used.

    Usage errors anywhere below it exit 1, not click's 2: in this tool 2 means
    "changes present" (``plan --detailed-exitcode``), and a CI job must not mistake a
    misspelt flag for a plan with changes.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _exit_one(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _exit_one(exc) from None

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
        return command


def _exit_one(exc: click.UsageError) -> click.UsageError:
    setattr(exc, "exit_code", exitcodes.ERROR)  # noqa: B010 - instance override of a ClassVar
    return exc


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
