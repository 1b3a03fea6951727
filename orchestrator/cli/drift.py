"""``govcloud drift [APP] [--env ENV]``: the cloud against the state of each live environment's
approved digest; ``govcloud drift --list`` shows the record without running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from orchestrator.cli.common import ENVIRONMENT, at_option, emit, output_option, parse_at, rich_safe
from orchestrator.cli.quota import cloud_option, policy_option
from orchestrator.cli.root import cli


@cli.command("drift")
@click.argument("app", required=False)
@click.option("--env", type=ENVIRONMENT, default=None, help="one environment [default: every live one]")
@click.option("--list", "listing", is_flag=True, help="only list the findings on record (open and ignored)")
@policy_option
@cloud_option
@at_option
@output_option
def drift_command(
    app: str | None, env: str | None, listing: bool, policy: Path | None, cloud: str | None, at: str | None, output: str
) -> None:
    """Find where the cloud differs from each live environment's approved digest and record it.

    Exit 1 when an environment drifts (a difference no ignore rule hides), 3 when a check failed.
    The remedy is `govcloud up APP --env ENV`: the approved digest applied again."""
    from orchestrator.adapters.driftlog import DriftLog
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import drift, quotas

    ledger = Ledger.open()
    if listing:
        found = DriftLog(ledger.engine).findings(application=app, environment=env, status=("open", "ignored"))
        emit(output, {"findings": found}, _print_listing)
        return
    report = drift.check(
        ledger, quotas.policy(policy).drift_ignore, application=app, environment=env, now=parse_at(at), cloud=cloud
    )
    emit(output, report.as_dict(), _print_report)
    if report.failed:
        raise click.exceptions.Exit(3)
    if report.drifted:
        raise click.exceptions.Exit(1)


def _line(f: dict[str, Any]) -> str:
    return rich_safe(f"{f['resource']} {f['property']}: {f['before']!r} -> {f['after']!r}")


def _print_report(r: dict[str, Any]) -> None:
    for c in r["checked"]:
        head = f"{c['stack']}: "
        if not c["ok"]:
            click.echo(head + f"check failed: {rich_safe(c['error'])}")
            continue
        counts = ", ".join(f"{len(c[k])} {k}" for k in ("new", "still", "ignored", "resolved") if c[k])
        click.echo(head + (counts or "no drift"))
        for kind, mark in (("new", "+"), ("still", "="), ("resolved", "✓")):
            for f in c[kind]:
                click.echo(f"  {mark} {kind:<8} {_line(f)}")
        for f in c["ignored"]:
            rule = f["rule"]
            click.echo(
                f"  ~ ignored  {_line(f)} (owner {rich_safe(rule['owner'])}, until {rule['expires']}: "
                f"{rich_safe(rule['reason'])})"
            )
    for s in r["skipped"]:
        click.echo(f"{s['stack']}: not checked: {s['why']}")
    if not r["checked"] and not r["skipped"]:
        click.echo("no live environment to check")
    elif r["drifted"]:
        click.echo("remedy: govcloud up APP --env ENV applies the approved digest again (recorded reapplied)")


def _print_listing(r: dict[str, Any]) -> None:
    for f in r["findings"]:
        click.echo(f"{f['stack']}: {f['status']:<8} {_line(f)} since {f['firstSeen']}")
    if not r["findings"]:
        click.echo("no drift on record")
