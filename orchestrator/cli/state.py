"""``govcloud doctor`` and ``govcloud state unlock STACK``: the shared state of a team (docs/operations.md)."""

from __future__ import annotations

import sys

import click

from orchestrator.cli.common import emit, output_option, rich_safe
from orchestrator.cli.root import cli
from orchestrator.errors import UsageError


@cli.command("doctor")
@click.option("--stack", help="the stack whose secrets test the passphrase (default: the first in the backend)")
@output_option
def doctor(stack: str | None, output: str) -> None:
    """Check the configuration, engine, state backend, passphrase and ledger before a first up."""
    from orchestrator.services.doctor import diagnose

    checks = diagnose(stack=stack)
    emit(output, [c.as_dict() for c in checks], _print_checks)
    if not all(c.ok for c in checks):
        sys.exit(3)


def _print_checks(rows: list[dict]) -> None:
    from rich.console import Console

    console = Console()
    for row in rows:
        mark = "[green]ok[/green]     " if row["ok"] else "[red]problem[/red]"
        console.print(f"{mark} {rich_safe(row['check'])}: {rich_safe(row['message'])}", highlight=False)


@cli.group("state")
def state() -> None:
    """The stacks' shared state."""


@state.command("unlock")
@click.argument("stack")
@click.option("--yes", is_flag=True, help="confirm that the process holding the stack is gone")
def unlock(stack: str, yes: bool) -> None:
    """Clear STACK's lease and its lock in the state backend, left by a killed process.

    Refused while the holder still runs on this host; otherwise asks first (--yes confirms)."""
    from orchestrator.adapters import engine
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.core.naming import STACK_NAME
    from orchestrator.services import stacklock

    if not STACK_NAME.fullmatch(stack):
        raise UsageError(f"{stack!r} is not a stack name (UNIT.APP.ENV) [rule stack-name]")
    located = engine.locate()
    cleared = stacklock.unlock(
        Ledger.open(),
        stack,
        lambda: engine.unlock(stack, located),
        lambda question: yes or click.confirm(question, default=False, err=True),
    )
    click.echo(f"{stack}: cleared {cleared}", err=True)
