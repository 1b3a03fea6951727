"""Backups (Art. 16, 22, 30, 44): ``govcloud backup run``, ``list``, ``restore`` and ``drill``."""

from __future__ import annotations

import click

from orchestrator.cli.common import actor_options, at_option, emit, make_actor, output_option, parse_at
from orchestrator.cli.root import cli
from orchestrator.core.text import printable

cloud_option = click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")


def _service(cloud: str | None, actor_args: tuple):
    from orchestrator.services.backup import open_service

    return open_service(make_actor(*actor_args), cloud)


@cli.group()
def backup() -> None:
    """Provider: the manifests' backups: scheduled runs with retention, listings, restores."""


@backup.command("run", short_help="Provider: take the backups that are due, then apply retention (Art. 30).")
@click.argument("application", required=False)
@click.option("--env", "environment", type=click.Choice(["test", "trial", "production"]), help="one environment")
@click.option("--force", is_flag=True, help="back up now whether or not the schedule says it is due")
@cloud_option
@actor_options
@at_option
@output_option
@click.pass_context
def backup_run(
    ctx: click.Context,
    application,
    environment,
    force,
    cloud,
    actor_name,
    actor_role,
    actor_unit,
    actor_token_file,
    at,
    output,
) -> None:
    """Take the backups due now (the manifest's cron, Beijing time) in every live environment (or
    APPLICATION's), then delete those past retentionDays (Art. 30). Exit 3 when a backup was missed,
    1 when a quota blocked one."""
    runs = _service(cloud, (actor_name, actor_role, actor_unit, actor_token_file)).run(
        parse_at(at), application, environment, force
    )
    emit(output, [r.as_dict() for r in runs], _print_runs)
    ctx.exit(1 if any(r.refused for r in runs) else 3 if any(r.missed for r in runs) else 0)


@backup.command("list", short_help="Every backup of an application, ours and made by hand, and the record (Art. 30).")
@click.argument("application")
@cloud_option
@actor_options
@output_option
def backup_list(application, cloud, actor_name, actor_role, actor_unit, actor_token_file, output) -> None:
    """Every backup in APPLICATION's live environments (ours, and those made by hand), and the
    ledger's record of them (Art. 30)."""
    emit(
        output,
        _service(cloud, (actor_name, actor_role, actor_unit, actor_token_file)).listing(application),
        _print_listing,
    )


@backup.command(
    "restore", short_help="Provider: restore a backup beside the live data, or over it when approved (Art. 15, 30)."
)
@click.argument("application")
@click.option(
    "--env",
    "environment",
    required=True,
    type=click.Choice(["test", "trial", "production"]),
    help="the environment to restore into",
)
@click.option("--from", "backup_id", required=True, help="the backup's id (govcloud backup list)")
@click.option(
    "--replace",
    is_flag=True,
    help="overwrite the live resource; needs the office's data-loss approval in the ledger (Art. 15)",
)
@cloud_option
@actor_options
@at_option
@output_option
def backup_restore(
    application,
    environment,
    backup_id,
    replace,
    cloud,
    actor_name,
    actor_role,
    actor_unit,
    actor_token_file,
    at,
    output,
) -> None:
    """Restore a backup into ENV's project beside the live resources (a new database, volume or
    container), or over the live one with --replace and the office's data-loss approval (Art. 15, 30)."""
    done = _service(cloud, (actor_name, actor_role, actor_unit, actor_token_file)).restore(
        application, environment, backup_id, parse_at(at), replace
    )
    emit(
        output,
        done,
        lambda d: click.echo(
            printable(
                f"{d['application']} {d['environment']}: {d['backup']['kind']} {d['backup']['id']} restored "
                f"{'over' if d['replace'] else 'as'} {d['name']} ({d['made']}) in project {d['into']}"
            )
        ),
    )


@backup.command("drill", short_help="Provider: a restore drill into a scratch project, recorded (Art. 44).")
@click.argument("application", required=False)
@click.option("--env", "environment", type=click.Choice(["test", "trial", "production"]), help="one environment")
@click.option("--due", is_flag=True, help="drill every application without a passed drill this quarter")
@cloud_option
@actor_options
@at_option
@output_option
@click.pass_context
def backup_drill(
    ctx: click.Context,
    application,
    environment,
    due,
    cloud,
    actor_name,
    actor_role,
    actor_unit,
    actor_token_file,
    at,
    output,
) -> None:
    """A restore drill (Art. 44) of APPLICATION, or with --due of every application whose quarterly
    drill is due: the latest backups restored into a scratch project, checked, the project
    removed, the drill recorded. Exit 1 when a check failed or the project stayed."""
    if due == bool(application) or (due and environment):
        raise click.UsageError("name an APPLICATION (and optionally --env), or --due for every drill due this quarter")
    service = _service(cloud, (actor_name, actor_role, actor_unit, actor_token_file))
    when = parse_at(at)
    if not due:
        report = service.drill(application, when, environment)
        emit(output, report, _print_drill)
        ctx.exit(0 if report["ok"] else 1)
    reports = [service.drill(name, when) for name in service.drills_due(when)]
    emit(output, reports, _print_drills)
    ctx.exit(0 if all(r["ok"] for r in reports) else 1)


def _print_drills(reports: list[dict]) -> None:
    if not reports:
        click.echo("no drill is due")
    for r in reports:
        _print_drill(r)


def _print_drill(r: dict) -> None:
    for c in r["checks"]:
        what = f"{c.get('kind', '-')} {c.get('backup', '')}".strip()
        click.echo(
            printable(
                f"  {'ok  ' if c['ok'] else 'FAIL'} {c['environment']:<10} {what}"
                f"{'  ' + c['problem'] if c['problem'] else ''}"
            )
        )
    gone = "removed" if r["scratch_removed"] else "NOT removed: delete it by hand"
    click.echo(
        printable(
            f"{r['application']}: drill {'passed' if r['ok'] else 'FAILED'}; scratch project "
            f"{r['scratch_project']} {gone}"
        )
    )


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.1f} GiB"


def _print_runs(runs: list[dict]) -> None:
    if not runs:
        click.echo("no live environment with backups enabled")
    for r in runs:
        head = f"{r['application']} {r['environment']}: " + ("due" if r["due"] else "not due") + f" (slot {r['slot']})"
        if r["volume_kind"] == "volume-snapshot":
            head += "; volumes as snapshots (the cloud runs no cinder-backup)"
        click.echo(printable(head))
        for b in r["taken"]:
            click.echo(
                printable(
                    f"  taken    {b['kind']:<16} {b['id']}  {b['source']}  {_size(b['size'])}  {b['checksum'] or ''}"
                )
            )
        for b in r["deleted"]:
            click.echo(printable(f"  deleted  {b['kind']:<16} {b['id']}  created {b['created']} (retention)"))
        for o in r.get("offsite", []):
            what = {
                "offsite-copied": "offsite ",
                "offsite-deleted": "offsite deleted ",
                "offsite-skipped": "NOT offsite ",
            }
            tail = f"-> {o['copy']}" if o.get("copy") else o.get("reason", "")
            click.echo(printable(f"  {what[o['action']]:<8} {o['kind']:<16} {o['id']}  {tail}"))
        for m in r["missed"]:
            click.echo(printable(f"  MISSED   {m}"))


def _print_listing(payload: dict) -> None:
    for env in payload["environments"]:
        click.echo(printable(f"{payload['application']} {env['environment']} (project {env['project']})"))
        if not env["backups"]:
            click.echo("  no backups")
        for b in env["backups"]:
            owner = "ours" if b["ours"] else "not ours (kept)"
            click.echo(
                printable(
                    f"  {b['created'][:16]}  {b['kind']:<16} {b['status']:<8} {b['id']}  "
                    f"{b['source']}  {_size(b['size'])}  {owner}"
                )
            )
    for o in payload.get("offsite", []):
        click.echo(
            printable(
                f"{payload['application']} {o['environment']} offsite copy of {o['kind']} {o['backup']}: "
                f"container {o['copy']} in project {o['project']} of site {o['site']}  {_size(o['bytes'])}  "
                f"{o['checksum'] or ''} (Art. 30)"
            )
        )
    for a in payload["archive"]:
        click.echo(
            printable(
                f"{payload['application']} {a['environment']} final backup {a['backup']} ({a['kind']}): "
                f"{a['archive_kind']} {a['archive_id']} in project {a['project']} until {a['until'][:16]} (Art. 16)"
            )
        )
