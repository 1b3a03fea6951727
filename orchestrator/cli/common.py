"""Shared CLI pieces: the ``--output`` option and payload printing."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.errors import UsageError

#: ``--env``'s values: the environments' names, in the order they open.
ENVIRONMENT = click.Choice([e.value for e in ENVIRONMENTS])

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


def rich_safe(value: object) -> str:
    """Text from outside (the ledger, the cloud, the engine) for a rich console: escaped for the
    terminal (:func:`orchestrator.core.text.printable`) and for rich's own ``[style]`` markup."""
    from rich.markup import escape

    from orchestrator.core.text import printable

    return escape(printable(value))


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
    "--at",
    "at",
    metavar="DATETIME",
    help="stated time of the step (Beijing time unless an offset is given); default now",
)


def actor_options(command: Callable) -> Callable:
    """Who acts: an ID token (``--id-token-file`` or GOVCLOUD_ID_TOKEN) under ``auth: oidc``;
    ``--as NAME --role ROLE --unit UNIT`` (or GOVCLOUD_ACTOR, GOVCLOUD_ROLE, GOVCLOUD_UNIT) under
    ``auth: local``. ``--role`` also picks one role of a token that grants several."""
    command = click.option(
        "--id-token-file",
        "actor_token_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="the platform's OIDC ID token (default: GOVCLOUD_ID_TOKEN)",
    )(command)
    command = click.option("--unit", "actor_unit", envvar="GOVCLOUD_UNIT", help="the actor's own unit (auth: local)")(
        command
    )
    command = click.option("--role", "actor_role", envvar="GOVCLOUD_ROLE", help="unit, egov-office or provider")(
        command
    )
    return click.option("--as", "actor_name", envvar="GOVCLOUD_ACTOR", help="who acts (auth: local)")(command)


def make_actor(name: str | None, role: str | None, unit: str | None, token_file: Path | None = None):
    """The actor of a step, known the way the configuration says (``auth``)."""
    from orchestrator.services.identity import resolve_actor
    from orchestrator.settings import current_settings

    settings = current_settings()
    if settings.auth == "local" and (not name or not role) and not (token_file or os.environ.get("GOVCLOUD_ID_TOKEN")):
        raise UsageError("say who acts: --as NAME --role ROLE (or GOVCLOUD_ACTOR and GOVCLOUD_ROLE)")
    return resolve_actor(name, role, unit, token_file, settings)
