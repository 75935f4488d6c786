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


# --- saved plans ---------------------------------------------------------------------------

SIGNING_KEY_ENV = "RECONCILE_SIGNING_KEY"
ROSTER_SUFFIXES = (".csv", ".yaml", ".yml", ".zip", ".txt")


def document_kind(path: str) -> str | None:
    """What a single input file is when it is not a roster: ``plan``, ``snapshot``
    (``reconcile export --format json``), or ``damaged`` (starts like a JSON object but
    does not parse, such as a truncated plan). None for anything else (rosters)."""
    import json
    from pathlib import Path

    from reconcile.canvas.snapshot import FORMAT as SNAPSHOT_FORMAT

    file = Path(path)
    if not file.is_file() or file.suffix.lower() in ROSTER_SUFFIXES:
        return None
    try:
        with open(file, "rb") as fh:
            head = fh.read(1 << 16).lstrip(b"\xef\xbb\xbf").lstrip()
        if not head.startswith(b"{"):
            return None
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError:
        return None
    except ValueError:  # invalid JSON or text
        return "damaged"
    if not isinstance(data, dict):
        return "damaged"
    if data.get("format") == SNAPSHOT_FORMAT:
        return "snapshot"
    if "format_version" not in data and ("courses" in data or "enrollments" in data):
        return None  # a roster written as JSON (YAML's flow style)
    return "plan"


def load_plan_or_fail(path: str) -> Any:
    """The verified plan in ``path``, or exit 1 saying why it is not one (a snapshot, a
    damaged file, a plan edited after it was made: :mod:`reconcile.planner.verify`)."""
    from reconcile.pipeline import load_plan
    from reconcile.plan import PlanFormatError

    kind = document_kind(path)
    if kind == "snapshot":
        fail(
            f"{path} is a snapshot (reconcile export), not a plan. Plan against it with "
            f"`reconcile plan ROSTER --current {path} --out plan.json`, review that, and apply the plan."
        )
    try:
        return load_plan(path)
    except PlanFormatError as exc:
        message = str(exc)
        for prefix in ("not a valid plan: ", "not a plan file: "):
            message = message.removeprefix(prefix)
        fail(f"{path}: not a valid plan: {message}")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


def signing_key(*, needed_for: str | None = None) -> bytes | None:
    """The plan signing key from ``RECONCILE_SIGNING_KEY`` (never from a flag or file, never
    printed). With ``needed_for``, exit 1 when it is not set."""
    import os

    value = os.environ.get(SIGNING_KEY_ENV, "")
    if not value.strip():
        if needed_for is not None:
            fail(f"{needed_for} needs the signing key in the {SIGNING_KEY_ENV} environment variable")
        return None
    return value.encode("utf-8")


def check_signature_or_fail(plan: Any, path: str, *, required: bool) -> str:
    """Refuse (exit 1) a plan whose signature does not match its content under the key, and,
    when ``required``, an unsigned plan. Returns what was found: signed, unsigned or unchecked
    (signed, but no key here to check it with)."""
    from reconcile.plan import signature_valid

    key = signing_key(needed_for="--require-signature" if required else None)
    if plan.signature is None:
        if required:
            fail(
                f"{path} is not signed, and --require-signature is set. "
                "Make the plan with `reconcile plan --sign` (the key in "
                f"{SIGNING_KEY_ENV}), in the job whose output you trust."
            )
        return "unsigned"
    if key is None:
        return "unchecked"
    if not signature_valid(plan, key):
        fail(
            f"{path}: the signature does not match the plan's content under the key in {SIGNING_KEY_ENV}: "
            "the plan was changed after it was signed, or signed with another key. Nothing was sent."
        )
    return "signed"
