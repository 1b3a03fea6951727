"""Lifecycle commands (Art. 10-16): ``govcloud app ...``, ``deadlines``, ``changes``, ``expire``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.cli.common import ENVIRONMENT, actor_options, at_option, emit, make_actor, output_option, parse_at
from orchestrator.cli.root import cli
from orchestrator.core.text import printable


class Command(click.Command):
    """Short help is the whole first line: click would cut it at the period of "Art. 12"."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return (self.help or "").strip().split("\n")[0]


def _lifecycle():
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.finalbackup import configured_cloud
    from orchestrator.services.lifecycle import Lifecycle

    return Lifecycle(Ledger.open(), cloud=configured_cloud())


def step(command: Callable) -> Callable:
    """The options of every recording step: actor, --at, --output."""
    return actor_options(at_option(output_option(command)))


def _run(
    method: str, *args, output: str, at: str | None, actor_name, actor_role, actor_unit, actor_token_file, **kw
) -> None:
    actor = make_actor(actor_name, actor_role, actor_unit, actor_token_file)
    event = getattr(_lifecycle(), method)(*args, actor=actor, at=parse_at(at), **kw)
    emit(output, event.as_dict(), _print_event)


def _print_events(events: list[dict[str, Any]]) -> None:
    for e in events:
        _print_event(e)


def _print_event(e: dict) -> None:
    env = f" [{e['environment']}]" if e["environment"] else ""
    program = f" with program {e['payload']['program'][:19]}" if e["payload"].get("program") else ""
    reason = f": {e['reason']}" if e["reason"] else ""
    approvers = e["payload"].get("approvers")
    quorum = f" ({_approvals(len(approvers), e['payload']['quorum'])}: {', '.join(approvers)})" if approvers else ""
    click.echo(
        printable(
            f"{e['application']} #{e['sequence']} {e['type']}{env} by {e['actor']} ({e['actor_role']}) "
            f"at {e['at']}{program}{quorum}{reason}"
        )
    )


def _approvals(count: int, quorum: int) -> str:
    return f"{count} of {quorum} approval{'s' if quorum != 1 else ''}"


class Group(click.Group):
    command_class = Command


@cli.group(cls=Group)
def app() -> None:
    """Record and read the lifecycle of applications (regulation Art. 10-16)."""


@app.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@step
def submit(manifest: Path, **kw) -> None:
    """Unit: submit (or resubmit) MANIFEST (Art. 11)."""
    _run("submit", manifest, **kw)


@app.command()
@click.argument("application")
@step
def accept(application: str, **kw) -> None:
    """E-gov office: accept the application (Art. 12, 3 working days)."""
    _run("accept", application, **kw)


@app.command()
@click.argument("application")
@click.option("--reason", required=True, help="why; the unit resubmits")
@step
def reject(application: str, reason: str, **kw) -> None:
    """E-gov office: reject the application with reasons (Art. 12)."""
    _run("reject", application, reason, **kw)


@app.command()
@click.argument("application")
@click.option("--opinion", required=True, help="the review opinion")
@step
def review(application: str, opinion: str, **kw) -> None:
    """E-gov office: record the review opinion (Art. 12, 2 working days)."""
    _run("review", application, opinion, **kw)


@app.command()
@click.argument("application")
@click.option("--env", "environment", type=ENVIRONMENT, required=True)
@step
def approve(application: str, environment: str, **kw) -> None:
    """E-gov office: approve ENV for the manifest on record (Art. 13-14)."""
    _run("approve", application, environment, **kw)


@app.command()
@click.argument("application")
@click.option("--days", type=click.IntRange(min=1), required=True)
@click.option("--reason", required=True)
@step
def extend(application: str, days: int, reason: str, **kw) -> None:
    """E-gov office: extend the test period by N natural days (Art. 13)."""
    _run("extend", application, days, reason, **kw)


@app.command("test-passed")
@click.argument("application")
@click.option("--evidence", required=True, help="the test report or evaluation")
@step
def test_passed(application: str, evidence: str, **kw) -> None:
    """E-gov office: record a passed performance and security test (Art. 15, 21)."""
    _run("test_passed", application, evidence, **kw)


@app.command()
@click.argument("application")
@click.option(
    "--risk",
    required=True,
    type=click.Choice(["high", "low"]),
    help="high: suspend the system until rectified; low: order rectification by --due",
)
@click.option("--finding", required=True, help="what the security inspection found")
@click.option("--reference", required=True, help="the inspection's reference (report number)")
@click.option("--due", help="low risk: the date (YYYY-MM-DD) the rectification is due")
@step
def suspend(application: str, risk: str, finding: str, reference: str, due: str | None, **kw) -> None:
    """E-gov office: a security inspection's finding (Art. 37); high risk suspends the system (the
    provider's `govcloud up` then shuts its servers off and withdraws its public ingress)."""
    _run("suspend", application, risk, finding, reference, due=due, **kw)


@app.command()
@click.argument("application")
@click.option("--rectified", "evidence", required=True, help="the evidence of the rectification")
@step
def resume(application: str, evidence: str, **kw) -> None:
    """E-gov office: the finding is rectified (Art. 37); a suspension is lifted (the provider's
    `govcloud up` restores the servers and the public ingress)."""
    _run("resume", application, evidence, **kw)


@app.command()
@click.argument("application")
@click.argument("manifest", type=click.Path(path_type=Path))
@step
def change(application: str, manifest: Path, **kw) -> None:
    """Unit: request a change to MANIFEST; classified minor or major (Art. 15)."""
    _run("change", application, manifest, **kw)


@app.command("approve-change")
@click.argument("application")
@step
def approve_change(application: str, **kw) -> None:
    """E-gov office: approve the pending change (Art. 15, 5 working days)."""
    _run("approve_change", application, **kw)


@app.command()
@click.argument("application")
@click.option("--reason", help="why the system is taken off the cloud")
@step
def terminate(application: str, reason: str | None, **kw) -> None:
    """Unit: request termination (Art. 16)."""
    _run("terminate", application, reason=reason, **kw)


@app.command("confirm-backup")
@click.argument("application")
@click.option("--evidence", required=True, help="where the data went and how it was backed up")
@click.option(
    "--backup",
    "backups",
    multiple=True,
    help="a backup govcloud took (govcloud backup list) to keep in the provider's archive after "
    "reclamation (repeatable); checked: of this application, complete, not deleted",
)
@step
def confirm_backup(application: str, evidence: str, backups: tuple[str, ...], **kw) -> None:
    """Unit: confirm the data is off the cloud and backed up, naming the final backup to keep (Art. 16)."""
    _run("confirm_backup", application, evidence, backups=list(backups), **kw)


@app.command("confirm-data-loss")
@click.argument("application")
@click.option("--env", "environment", type=ENVIRONMENT, required=True)
@click.option(
    "--resource",
    "resources",
    multiple=True,
    required=True,
    help="a resource whose data the up may destroy, as govcloud changes names it (repeatable)",
)
@click.option("--backup", "evidence", required=True, help="the backup that keeps the data (its id or reference)")
@click.option("--digest", help="the digest the up applies; default the manifest on record")
@step
def confirm_data_loss(
    application: str, environment: str, resources: tuple[str, ...], evidence: str, digest: str | None, **kw
) -> None:
    """Unit: confirm an up of ENV may destroy the data of each --resource, with its backup (Art. 15)."""
    _run("confirm_data_loss", application, environment, list(resources), evidence, digest=digest, **kw)


@app.command("approve-data-loss")
@click.argument("application")
@click.option("--env", "environment", type=ENVIRONMENT, required=True)
@step
def approve_data_loss(application: str, environment: str, **kw) -> None:
    """E-gov office: approve the data loss the unit confirmed for ENV (Art. 15)."""
    _run("approve_data_loss", application, environment, **kw)


@app.command("approve-termination")
@click.argument("application")
@step
def approve_termination(application: str, **kw) -> None:
    """E-gov office: approve the termination (Art. 16, 5 working days)."""
    _run("approve_termination", application, **kw)


@app.command()
@click.argument("application")
@click.option(
    "--step",
    "quorum_step",
    required=True,
    type=click.Choice(["production", "major-change", "termination"]),
    help="the approval to withdraw",
)
@click.option("--reason", help="why")
@step
def withdraw(application: str, quorum_step: str, reason: str | None, **kw) -> None:
    """E-gov office: withdraw one's approval given short of the policy's quorum (Art. 14-16); it no longer counts."""
    _run("withdraw", application, quorum_step, reason=reason, **kw)


@app.command("record-provisioned")
@click.argument("application")
@click.option("--env", "environment", type=ENVIRONMENT, required=True)
@click.option("--digest", help="the digest provisioned; default the one approved")
@step
def record_provisioned(application: str, environment: str, digest: str | None, **kw) -> None:
    """Provider: record that ENV is provisioned; gated by the approved digest, test window and trial (Art. 13-14)."""
    _run("record_provisioned", application, environment, digest=digest, **kw)


@app.command("record-reclaimed")
@click.argument("application")
@step
def record_reclaimed(application: str, **kw) -> None:
    """Provider: record that every resource is reclaimed (Art. 16, 3 working days)."""
    _run("record_reclaimed", application, **kw)


@app.command()
@click.argument("application", required=False)
@at_option
@output_option
def status(application: str | None, at: str | None, output: str) -> None:
    """State, approvals and deadlines of APPLICATION, or the state of every application."""
    service = _lifecycle()
    payload = service.status(application, parse_at(at)) if application else service.overview()
    emit(output, payload, _print_status)


def _print_status(payload) -> None:
    if isinstance(payload, list):
        for s in payload:
            click.echo(printable(f"{s['application']:<32} {s['unit']:<12} {s['state']:<22} #{s['sequence']}"))
        return
    click.echo(
        printable(f"{payload['application']} ({payload['unit']}): {payload['state']}  digest {payload['digest']}")
    )
    for env, digest in payload["approved"].items():
        live = f" provisioned ({payload['provisioned'][env][:19]})" if env in payload["provisioned"] else ""
        last = payload["deployed"].get(env)
        if live and last:
            program = f" with program {last['program'][:19]}" if last.get("program") else ""
            live += f"; last {last['event']} at {last['at']}{program}"
        click.echo(printable(f"  approved {env}: {digest}{live}"))
    for name, pending in payload.get("approvals", {}).items():
        by = ", ".join(f"{a['actor']} at {a['at']}" for a in pending["by"])
        click.echo(printable(f"  {name} approval: {_approvals(pending['count'], pending['quorum'])} ({by})"))
    if payload.get("suspension"):
        held = payload["suspension"]
        click.echo(
            printable(
                f"  SUSPENDED (Art. 37) since {held['at']} by {held['by']}, {held['reference']}: {held['finding']}"
            )
        )
    order = payload.get("rectification")
    if order and not order.get("rectified"):
        click.echo(printable(f"  rectification due {order['due']} ({order['reference']}): {order['finding']}"))
    proposed = payload.get("termination_proposed")
    if proposed:
        from orchestrator.files import shown

        click.echo(
            f"  termination proposed at {proposed['at']}: {shown(proposed['path'] or '')} deleted in commit "
            f"{(proposed['commit'] or '')[:12]} (git author, unverified: {shown(proposed['author'] or '')}); "
            f"the unit confirms with: govcloud app terminate {payload['application']}"
        )
    _print_deadlines(payload["deadlines"])


@app.command()
@click.argument("application")
@at_option
@output_option
def history(application: str, at: str | None, output: str) -> None:
    """Every event of APPLICATION in order."""
    events = [e.as_dict() for e in _lifecycle().history(application)]
    emit(output, events, _print_events)


@cli.command(cls=Command)
@click.option("--overdue", is_flag=True, help="only deadlines already missed and still running")
@at_option
@output_option
def deadlines(overdue: bool, at: str | None, output: str) -> None:
    """Running deadlines of every application (Art. 12-16), judged at --at."""
    scan = _lifecycle().deadlines(parse_at(at), overdue=overdue)
    emit(output, [d.as_dict() for d in scan.found], _print_deadlines)
    for problem in scan.problems:
        click.echo(printable(f"error: {problem}"), err=True)
    if scan.problems:
        raise click.exceptions.Exit(3)


def _print_deadlines(items: list[dict]) -> None:
    for d in items:
        flag = " (provisional)" if d["provisional"] else ""
        done = f" done {d['done']}" if d["done"] else ""
        click.echo(
            printable(
                f"  {d['application']:<28} {d['name']:<20} due {d['due']}{flag} {d['status']:<6}"
                f" {d['working_days']} wd{done} [{d['article']}]"
            )
        )


@cli.command(cls=Command)
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@at_option
@output_option
def changes(old: Path, new: Path, at: str | None, output: str) -> None:
    """Classify the changes from manifest OLD to NEW as minor or major (Art. 15)."""
    from orchestrator.services.lifecycle import classify_files

    found = [c.as_dict() for c in classify_files(old, new)]
    kind = "major" if any(c["kind"] == "major" for c in found) else ("minor" if found else "none")
    emit(output, {"kind": kind, "changes": found}, _print_changes)


def _print_changes(payload: dict) -> None:
    for c in payload["changes"]:
        if c["what"]:
            click.echo(f"{c['kind']:<6} {c['path']}: {c['what']}")
            click.echo(f"{'':<6} why: {c['reason']}")
        else:  # a finding that is its own reason (what the engine would destroy)
            click.echo(f"{c['kind']:<6} {c['path']}: {c['reason']}")
    click.echo(f"change: {payload['kind']}")


@cli.command(cls=Command)
@click.option("--dry-run", is_flag=True, help="list what would be warned and removed, do nothing")
@click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")
@step
def expire(
    dry_run: bool, cloud: str | None, output: str, at: str | None, actor_name, actor_role, actor_unit, actor_token_file
) -> None:
    """Provider: warn test environments 3 days before expiry, remove them at expiry (Art. 13).

    A test environment is removed as govcloud reclaim removes one (stack, leftovers, clients,
    project, grants), under the application's reclaim lease; the platform is reached with the
    variables govcloud reclaim reads. Exit 3 when a removal failed or the engine is missing."""
    from orchestrator.services.reclaim import open_reclaimer

    actor = make_actor(actor_name, actor_role, actor_unit, actor_token_file)
    report = open_reclaimer(actor, cloud).expire(parse_at(at), dry_run=dry_run)
    emit(output, report.as_dict(), _print_expiry)
    if report.failed:
        raise click.exceptions.Exit(3)


def _print_expiry(r: dict) -> None:
    for a in r["actions"]:
        outcome = "would" if r["dry_run"] else ("FAILED" if a["error"] else "done")
        counts = ", ".join(f"{k} {n}" for k, n in a["deleted"].items())
        click.echo(
            printable(
                f"{outcome:<6} {a['action']:<7} {a['application']} test (expires {a['expires']})"
                f"{'  (' + counts + ')' if counts else ''}{': ' + a['error'] if a['error'] else ''}"
            )
        )
    click.echo(f"{len(r['actions'])} action(s), {r['failed']} failed")
