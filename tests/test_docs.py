"""Meta-tests: the README, the examples and the CLI cannot drift apart."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconcile.cli import COMMANDS, cli
from tools import config_reference

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _all_commands() -> list[tuple[str, ...]]:
    ctx = click.Context(cli)
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, f"{' '.join(prefix + (name,))} is registered but cannot be loaded"
            found.append(prefix + (name,))
            if isinstance(command, click.Group):
                walk(command, prefix + (name,))

    walk(cli, ())
    return found


def _shown_invocations(text: str) -> list[list[str]]:
    """Every `reconcile ...` command line in the README's and examples' code."""
    lines = []
    for raw in text.splitlines():
        for match in re.finditer(r"(?:^|[\s`(|&;])(?:\.venv/bin/)?reconcile ([^`|;&\n]*)", raw):
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                words = match.group(1).split()
            lines.append(words)
    return lines


def _resolve(words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Split shown words into the command path and the flags used."""
    ctx = click.Context(cli)
    path: list[str] = []
    group: click.Command = cli
    for word in words:
        if isinstance(group, click.Group) and word in group.list_commands(ctx):
            path.append(word)
            group = group.get_command(ctx, word)  # type: ignore[assignment]
        else:
            break
    flags = [w.split("=")[0] for w in words if w.startswith("-")]
    return tuple(path), flags


def test_every_registered_command_loads() -> None:
    names = {path[0] for path in _all_commands()}
    assert names == set(COMMANDS), f"registered but not built: {set(COMMANDS) - names}"


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command = cli
    for name in path:
        command = command.get_command(click.Context(command), name)  # type: ignore[attr-defined,assignment]
    assert (command.help or "").strip(), f"reconcile {' '.join(path)} has no help text"
    assert f"reconcile {' '.join(path)}" in README, f"README does not show `reconcile {' '.join(path)}`"


def _documents() -> dict[str, str]:
    docs = {"README.md": README}
    for path in sorted((ROOT / "examples").rglob("*")):
        if path.suffix in {".sh", ".yml", ".md"} or path.name == "crontab":
            docs[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return docs


@pytest.mark.parametrize("doc", sorted(_documents()))
def test_every_shown_command_and_flag_exists(doc: str) -> None:
    shown = _shown_invocations(_documents()[doc])
    for words in shown:
        path, flags = _resolve(words)
        if not path:
            continue
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, f"{doc}: `reconcile {' '.join(path)} --help` failed: {result.output}"
        for flag in flags:
            if flag in {"-h", "--help"}:
                continue
            assert re.search(rf"(^|[\s,/\[]){re.escape(flag)}([\s,=/\]]|$)", result.output, re.M), (
                f"{doc}: `reconcile {' '.join(path)}` has no option {flag}"
            )


def test_readme_config_reference_matches_the_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text(encoding="utf-8"))
    assert config_reference.current_block(README) == config_reference.render(schema), (
        "README config reference is out of date: run `python -m tools.config_reference`"
    )


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README
