"""What every command shares, so that each finds its config and state the same way.

``@config_option`` is the one ``-c/--config`` option; :func:`load_config_or_fail` finds the
file (``-c``, then ``RECONCILE_CONFIG``, then ``./reconcile.yaml``, see
:func:`reconcile.config.find_config`), loads it and exits 1 with every problem when it is
unusable. The state dir in the returned config is absolute (resolved against the config
file's folder), so ``apply`` and ``history`` run from any directory meet the same journal
and lock.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from reconcile import exitcodes

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "reconcile.yaml (default: $RECONCILE_CONFIG, else ./reconcile.yaml when present)."


def config_option(func: F) -> F:
    """The ``-c/--config`` option, spelt and documented once for every command."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),  # a missing file is reported by load_config_or_fail
        help=CONFIG_HELP,
    )(func)


def fail(message: str, *, code: int = exitcodes.ERROR) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def load_config_or_fail(
    config_path: str | None, *, on_error: Callable[[list[str]], NoReturn] | None = None
) -> Any:
    """The effective config for a command, found as the module docstring says.

    On a bad or missing file, ``on_error(problems)`` when given (``validate --output json``
    reports problems its own way), else exit 1 listing every problem."""
    from reconcile.config import ConfigError, find_config, load_config

    try:
        return load_config(find_config(config_path))
    except ConfigError as exc:
        if on_error is not None:
            on_error(list(exc.problems))
        fail("bad configuration:\n  " + "\n  ".join(exc.problems))
