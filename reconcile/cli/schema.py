"""``reconcile schema NAME``: print a published JSON Schema."""

from __future__ import annotations

import json

import click

from reconcile import schemas
from reconcile.cli.common import output_options


@click.command()
@click.argument("name", type=click.Choice(schemas.NAMES))
@output_options
def schema(name: str) -> None:
    """Print the JSON Schema for a roster, config, plan or simulator seed document."""
    try:
        document = schemas.load(name)
    except FileNotFoundError as exc:
        raise click.ClickException(f"schema {name!r} is not available in this installation") from exc
    click.echo(json.dumps(document, indent=2, sort_keys=False))
