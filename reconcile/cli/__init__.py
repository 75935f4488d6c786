"""The ``reconcile`` command line.

Only this package prints or prompts. Each sub-command lives in its own module and is
imported lazily, so ``reconcile --help`` stays fast and one broken command cannot take
the others down.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Any

import click

from reconcile import __version__, exitcodes
from reconcile.cli.common import output_options

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

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(unknown_command(name, self.list_commands(ctx)), ctx=ctx)
        return super().resolve_command(ctx, args)

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


def unknown_command(name: str, known: list[str]) -> str:
    """ "No such command 'plna'. Did you mean 'plan'?" (the suggestion only when one is close)."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not close:
        return f"No such command {name!r}. Commands: {', '.join(known)}."
    if len(close) == 1:
        return f"No such command {name!r}. Did you mean {close[0]!r}?"
    return f"No such command {name!r}. Did you mean one of: {', '.join(close)}?"


def _exit_one(exc: click.UsageError) -> click.UsageError:
    setattr(exc, "exit_code", exitcodes.ERROR)  # noqa: B010 - instance override of a ClassVar
    return exc


def _importable(name: str) -> bool:
    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@output_options
def cli() -> None:
    """Plan and apply Canvas LMS enrollments from a roster (SIS CSV, YAML or OneRoster)."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="reconcile")
