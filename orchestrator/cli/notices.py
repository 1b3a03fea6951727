"""Notices: ``govcloud notify [--dry-run]``, ``govcloud notify status`` and the scheduled ``govcloud tick``."""

from __future__ import annotations

import click

from orchestrator.cli.common import actor_options, at_option, emit, make_actor, output_option, parse_at
from orchestrator.cli.root import cli
from orchestrator.errors import UsageError

STATUSES = click.Choice(["pending", "sending", "sent", "failed"])


def _settings():
    from orchestrator.settings import current_settings

    settings = current_settings()
    if settings.notices is None:
        raise UsageError(f"{settings.source}: notices are not configured: add a notices section (docs/notices.md)")
    return settings.notices


def _notices():
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.notices import Notices

    return Notices(Ledger.open(), _settings())


@cli.group(invoke_without_command=True)
@click.option("--dry-run", is_flag=True, help="list the digests that would go, send and claim nothing")
@output_option
@click.pass_context
def notify(ctx: click.Context, dry_run: bool, output: str) -> None:
    """Deliver the queued notices: one digest per recipient; exit 3 when a delivery failed."""
    if ctx.invoked_subcommand is not None:
        return
    report = _notices().deliver(dry_run=dry_run)
    emit(output, report.as_dict(), _print_delivery)
    if report.failed or report.count("retry"):
        raise click.exceptions.Exit(3)


@notify.command("status")
@click.option("--status", "status", type=STATUSES, help="only notices in this state")
@click.option("--app", "application", help="only notices about this application")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@output_option
def notify_status(status: str | None, application: str | None, limit: int, output: str) -> None:
    """Pending, sent and failed notices, newest first, with their attempts and last error."""
    emit(output, _notices().status(status, application, limit), _print_status)


@cli.command()
@click.option(
    "--skip",
    type=click.Choice(["deadlines", "expire", "capacity", "drift", "cloud-drift", "backups", "deliver"]),
    multiple=True,
    help="leave out a step (repeatable), e.g. the cloud's where there is none",
)
@click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")
@click.option("--policy", type=click.Path(dir_okay=False), help="quota policy file (capacity threshold)")
@actor_options
@at_option
@output_option
def tick(
    skip: tuple[str, ...],
    cloud: str | None,
    policy: str | None,
    at: str | None,
    output: str,
    actor_name,
    actor_role,
    actor_unit,
    actor_token_file,
) -> None:
    """The scheduled run, under the ledger's tick lease: deadline scan, expire, capacity, drift, cloud drift,
    backups, delivery.

    Every step runs even when one before failed; exit 3 when any failed. A tick that finds
    another one running does nothing (exit 0). The actor options name the provider that expire and
    backups record removals and backups for."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import tick as svc

    ledger = Ledger.open()
    steps = svc.default_steps(
        ledger,
        _settings(),
        parse_at(at),
        cloud=cloud,
        policy=policy,
        actor=lambda: make_actor(actor_name, actor_role, actor_unit, actor_token_file),
    )
    report = svc.run(ledger, steps, frozenset(skip))
    emit(output, report.as_dict(), _print_tick)
    if report.failed:
        raise click.exceptions.Exit(3)


def _print_delivery(r: dict) -> None:
    for m in r["messages"]:
        detail = f": {m['error']}" if m["error"] else ""
        click.echo(f"{m['outcome']:<10} {m['recipient']:<40} {len(m['notices'])} notice(s){detail}")
    click.echo(
        f"{len(r['messages'])} digest(s): {r['sent']} sent, {r['retry']} to retry, {r['failed']} failed, "
        f"{r['deferred']} deferred" + (" (dry run)" if r["dry_run"] else "")
    )


def _print_status(r: dict) -> None:
    from orchestrator.adapters.noticetexts import plain

    for n in r["notices"]:
        error = f"  {plain(n['last_error'])[:120]}" if n["last_error"] else ""
        if n["status"] == "pending" and n["next_attempt"]:
            error = f" next try {n['next_attempt'][:19]} UTC{error}"
        topic = f"{n['kind']}:{n['topic']}" if n["topic"] else n["kind"]
        click.echo(
            f"{n['status']:<8} {topic:<36} {plain(n['application']) or '-':<24} {n['environment'] or '-':<10} "
            f"due {n['due']} -> {plain(n['recipient'])} ({n['attempts']} attempt(s)){error}"
        )
    click.echo(", ".join(f"{k} {v}" for k, v in r["counts"].items()))


def _print_tick(r: dict) -> None:
    if not r["ran"]:
        click.echo(f"another tick is running ({r['held_by']}, lease until {r['held_until']} UTC): nothing done")
        return
    for s in r["steps"]:
        outcome = "skipped" if s["skipped"] else ("ok" if s["ok"] else "FAILED")
        detail = ", ".join(f"{k} {v}" for k, v in s["detail"].items() if isinstance(v, (int, str)) and k != "traceback")
        click.echo(f"{s['name']:<10} {outcome:<8} {detail}{': ' + s['error'] if s['error'] else ''}")
