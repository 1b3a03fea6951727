"""``govcloud ledger check|rebuild``: the projection against the event log it is derived from."""

from __future__ import annotations

import click

from orchestrator.cli.common import emit, output_option
from orchestrator.cli.root import cli
from orchestrator.core.text import printable


def _lifecycle():
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.lifecycle import Lifecycle

    return Lifecycle(Ledger.open())


@cli.group(short_help="Check or rebuild the ledger's projection from its events.")
def ledger() -> None:
    """The ledger: events are the record; the per-application projection is derived from them."""


@ledger.command()
@output_option
def check(output: str) -> None:
    """Compare the projection with the events; exit 1 and say what differs when they disagree."""
    found = _lifecycle().check_projection()
    emit(output, {"consistent": not found, "differences": found}, _print_check)
    if found:
        raise click.exceptions.Exit(1)


@ledger.command()
@output_option
def rebuild(output: str) -> None:
    """Recompute the projection from the events, in one transaction."""
    count = _lifecycle().rebuild_projection()
    emit(
        output,
        {"rebuilt": count},
        lambda p: click.echo(f"projection rebuilt from the events of {p['rebuilt']} application(s)"),
    )


def _print_check(payload: dict) -> None:
    for difference in payload["differences"]:
        click.echo(printable(difference))
    if payload["consistent"]:
        click.echo("the projection agrees with the events")
