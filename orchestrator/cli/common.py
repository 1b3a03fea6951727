"""Shared CLI pieces: the ``--output`` option and payload printing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import click

from orchestrator.errors import UsageError

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


def parse_at(value: str | None) -> dt.datetime:
    """``--at`` as naive Beijing time: a date, a naive datetime (Beijing) or one with an offset."""
    from orchestrator.services.lifecycle import BEIJING, beijing_now

    if not value:
        return beijing_now()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--at must be YYYY-MM-DD or an ISO datetime, got {value!r}") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(BEIJING).replace(tzinfo=None)
    return parsed


at_option = click.option(
    "--at", "at", metavar="DATETIME", help="stated time of the step (Beijing time unless an offset is given); default now"
)


def actor_options(command: Callable) -> Callable:
    """``--as NAME --role ROLE --unit UNIT`` (or GOVCLOUD_ACTOR, GOVCLOUD_ROLE, GOVCLOUD_UNIT)."""
    command = click.option("--unit", "actor_unit", envvar="GOVCLOUD_UNIT", help="the actor's own unit")(command)
    command = click.option("--role", "actor_role", envvar="GOVCLOUD_ROLE", help="unit, egov-office or provider")(command)
    return click.option("--as", "actor_name", envvar="GOVCLOUD_ACTOR", help="who records this step")(command)


def make_actor(name: str | None, role: str | None, unit: str | None):
    from orchestrator.core.lifecycle import Actor

    if not name or not role:
        raise UsageError("say who acts: --as NAME --role ROLE (or GOVCLOUD_ACTOR and GOVCLOUD_ROLE)")
    return Actor(name, role, unit or None)
