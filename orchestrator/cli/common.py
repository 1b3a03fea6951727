"""Shared CLI pieces: the ``--output`` option and payload printing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for pipelines (only the payload goes to stdout)",
)


def emit(output: str, payload: Any, human: Callable[[Any], None]) -> None:
    """Print ``payload`` as JSON, or call ``human`` to render it for people."""
    if output == "json":
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        human(payload)
