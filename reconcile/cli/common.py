"""What every command shares, so that each finds its config and state the same way.

``@config_option`` is the one ``-c/--config`` option; :func:`load_config_or_fail` finds the
file (``-c``, then ``RECONCILE_CONFIG``, then ``./reconcile.yaml``, see
:func:`reconcile.config.find_config`), loads it and exits 1 with every problem when it is
unusable. The state dir in the returned config is absolute (resolved against the config
file's folder), so ``apply`` and ``history`` run from any directory meet the same journal
and lock.

``@output_options`` is the one ``-v/--verbose`` and ``--color/--no-color`` pair, on the group
and on every command; :func:`colour_for` and :func:`progress_console` are the one place that
decides whether colour and a live progress bar may be written; :func:`echo_request_figures`
and :func:`echo_retry_notice` end a command that talked to Canvas.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import IO, Any, NoReturn, TypeVar

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


# -- what a command shows: log verbosity and colour ---------------------------------------
#
# Both options are accepted on the top-level group (``reconcile -v plan``) and on every
# command (``reconcile plan -v``); the settings live on the root context, so either place
# works and ``-v`` counts across both.

LOG_ENV = "RECONCILE_LOG"
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_VERBOSITY = "reconcile.verbosity"
_COLOUR = "reconcile.color"

VERBOSE_HELP = (
    "Log on stderr what it does: -v each retry, throttle wait and backoff with its reason, "
    "-vv every request too (or set RECONCILE_LOG=info|debug)."
)
COLOUR_HELP = (
    "Colour and progress bars (default: only on a terminal and when NO_COLOR is not set). "
    "--no-color prints plain text with no escape codes at all."
)


def output_options(func: F) -> F:
    """``-v/--verbose`` and ``--color/--no-color``, spelt and documented once for every command."""
    func = click.option(
        "--color/--no-color",
        "color",
        default=None,
        expose_value=False,
        callback=_remember_colour,
        help=COLOUR_HELP,
    )(func)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_add_verbosity,
        help=VERBOSE_HELP,
    )(func)


def _add_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    root = ctx.find_root()
    root.meta[_VERBOSITY] = root.meta.get(_VERBOSITY, 0) + (value or 0)
    configure_logging(root.meta[_VERBOSITY])


def _remember_colour(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    root = ctx.find_root()
    if value is not None:
        root.meta[_COLOUR] = value
    chosen = root.meta.get(_COLOUR)
    # click.echo/secho strip styles when ctx.color is False; None lets click ask the stream.
    ctx.color = chosen if chosen is not None else (False if _no_color_env() else None)


def verbosity() -> int:
    """How many ``-v`` were given (0 outside a command)."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.find_root().meta.get(_VERBOSITY, 0)) if ctx is not None else 0


def colour_for(stream: IO[str]) -> bool:
    """Whether to write colour to ``stream``: ``--color``/``--no-color`` when given, else
    never with ``NO_COLOR`` set (https://no-color.org) or ``TERM=dumb``, else only on a terminal."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.find_root().meta.get(_COLOUR) if ctx is not None else None
    if chosen is not None:
        return bool(chosen)
    if _no_color_env() or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def progress_console() -> Any:
    """A rich Console on stderr for a live progress bar, or None where a bar would not belong:
    stderr is not a terminal (cron, CI, a pipe), or colour is off (a live bar moves the cursor
    with escape codes, and ``NO_COLOR``/``--no-color`` promise none)."""
    if not _isatty(sys.stderr) or not colour_for(sys.stderr):
        return None
    from rich.console import Console

    return Console(stderr=True)


def _no_color_env() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(verbose: int = 0) -> None:
    """Send the ``reconcile`` loggers to stderr at the level ``-v`` asks for (1: INFO,
    2+: DEBUG), else ``RECONCILE_LOG``, else WARNING. Safe to call again (one handler)."""
    if verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    else:
        level = _env_level()
    logger = logging.getLogger("reconcile")
    logger.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        )
        logger.addHandler(handler)


def _env_level() -> int:
    text = os.environ.get(LOG_ENV, "").strip().lower()
    if not text:
        return logging.WARNING
    if text not in LOG_LEVELS:
        raise click.UsageError(f"{LOG_ENV}={text!r} is not one of {', '.join(LOG_LEVELS)}")
    return LOG_LEVELS[text]


def echo_request_figures(stats: Any, seconds: float) -> None:
    """End a command with its request figures on stderr (so stdout stays the plan, CSV or
    JSON), plus :func:`echo_retry_notice`."""
    from reconcile.render.common import request_figures

    click.echo(
        request_figures(
            requests=stats.requests, retried=stats.retries, throttled=stats.throttled, seconds=seconds
        ),
        err=True,
    )
    echo_retry_notice(stats)


def echo_retry_notice(stats: Any) -> None:
    """One line on stderr when retries or throttling stretched the run, unless the log at
    INFO (``-v``, ``RECONCILE_LOG=info``) has already shown each of them."""
    from reconcile.render.common import retry_notice

    if logging.getLogger("reconcile.canvas").isEnabledFor(logging.INFO):
        return
    notice = retry_notice(retried=stats.retries, throttled=stats.throttled, waited=stats.waited)
    if notice:
        click.echo(notice, err=True)
