"""``govcloud preview|up|destroy|refresh APP --env ENV``: the Pulumi engine on one stack.

APP is an application id (looked up in ``--manifests`` directories, ``GOVCLOUD_MANIFESTS``, or
``./manifests`` and ``examples/manifests``) or a manifest path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import click

from orchestrator.cli.common import (
    ENVIRONMENT,
    actor_options,
    at_option,
    emit,
    make_actor,
    output_option,
    parse_at,
    rich_safe,
)
from orchestrator.cli.root import cli
from orchestrator.errors import UsageError


def stack_command(operation: str, summary: str, dry_run_flag: bool = False) -> Callable:
    """Define ``govcloud <operation>`` with the options every engine command shares."""

    def command(
        app: str,
        env: str,
        manifests: tuple[Path, ...],
        external_network: str | None,
        key_pair: str | None,
        output: str,
        yes: bool = True,
        at: str | None = None,
        **who,
    ) -> None:
        from orchestrator.services.provision import run_operation

        # every engine command takes the actor options; up needs an actor (it records), the others
        # verify one when given (a wrong --role or token is refused everywhere alike)
        given = operation == "up" or who["actor_name"] or who["actor_token_file"]
        actor = (
            make_actor(who["actor_name"], who["actor_role"], who["actor_unit"], who["actor_token_file"])
            if given
            else None
        )
        result = run_operation(
            operation,
            app,
            env,
            manifests=manifests,
            external_network=external_network,
            key_pair=key_pair,
            dry_run=not yes,
            on_progress=ProgressPrinter(),
            actor=actor,
            at=parse_at(at) if operation == "up" else None,
        )
        emit(output, result.as_dict(), _print_result)

    command.__doc__ = summary
    options = [
        click.argument("app"),
        click.option("--env", required=True, type=ENVIRONMENT),
        click.option(
            "--manifests",
            multiple=True,
            type=click.Path(path_type=Path, file_okay=False),
            help="directory of manifests to find APP in (repeatable)",
        ),
        click.option(
            "--external-network", help="external network name [env GOVCLOUD_EXTERNAL_NETWORK, default public]"
        ),
        click.option("--key-pair", help="Nova key pair for the servers [env GOVCLOUD_KEY_PAIR]"),
        output_option,
    ]
    if dry_run_flag:
        options.append(click.option("--yes", is_flag=True, help="really do it; without it, only preview"))
    for option in reversed(options):
        command = option(command)
    if operation == "up":  # it records a step in the ledger, like every recording command
        command = at_option(command)
    return cli.command(operation)(actor_options(command))


stack_command("preview", "Preview the changes to APP's environment stack.")
stack_command("up", "Create or update APP's environment stack.")
stack_command("destroy", "Destroy APP's environment stack (a preview unless --yes).", dry_run_flag=True)
stack_command("refresh", "Refresh the stack's state from the cloud (a preview unless --yes).", dry_run_flag=True)


@cli.command("verify")
@click.argument("app")
@click.option("--env", required=True, type=ENVIRONMENT)
@click.option(
    "--manifests",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="directory of manifests to find APP in (repeatable)",
)
@click.option("--external-network", help="external network name [env GOVCLOUD_EXTERNAL_NETWORK, default public]")
@click.option("--key-pair", help="Nova key pair of the servers [env GOVCLOUD_KEY_PAIR]")
@click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")
@output_option
def verify_command(
    app: str,
    env: str,
    manifests: tuple[Path, ...],
    external_network: str | None,
    key_pair: str | None,
    cloud: str | None,
    output: str,
) -> None:
    """Compare APP's environment in the cloud with its plan, resource by resource (exit 1: they differ)."""
    from orchestrator.errors import RuleError
    from orchestrator.services.verify import verify

    found = verify(app, env, manifests=manifests, external_network=external_network, key_pair=key_pair, cloud=cloud)
    emit(output, found.as_dict(), _print_verification)
    if not found.matches:
        raise RuleError(
            f"{found.stack}: the cloud differs from the plan in {len(found.problems)} place(s)",
            rule="cloud-matches-plan",
        )


def _print_verification(payload: dict) -> None:
    click.echo(
        f"{payload['stack']} at {payload['digest']}: "
        + ("the cloud matches the plan" if payload["matches"] else "the cloud differs from the plan")
    )
    for problem in payload["problems"]:
        click.echo(f"  {problem}")


class ProgressPrinter:
    """Engine progress for people, on stderr."""

    SYMBOLS: ClassVar[dict[str, str]] = {
        "create": "+",
        "update": "~",
        "delete": "-",
        "replace": "+-",
        "same": " ",
        "refresh": "r",
    }

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)

    def __call__(self, event) -> None:
        if event.kind == "message":
            if event.severity in ("error", "warning", "info"):
                self.console.print(f"[{'red' if event.severity == 'error' else 'yellow'}]{rich_safe(event.message)}")
            return
        if event.op == "same" and event.kind != "failed":
            return
        mark = {"step": "…", "done": "✓", "failed": "✗"}[event.kind]
        style = {"step": "dim", "done": "green", "failed": "red"}[event.kind]
        symbol = self.SYMBOLS.get(event.op, event.op)
        self.console.print(f"[{style}]{mark} {rich_safe(f'{symbol:<2} {event.op:<8} {event.type}  {event.name}')}")


def _print_result(payload: dict) -> None:
    verb = "would change" if payload["dryRun"] else "changed"
    changes = ", ".join(f"{op} {n}" for op, n in payload["changes"].items()) or "nothing"
    click.echo(f"{payload['stack']}: {payload['operation']} {verb}: {changes}")
    for key, value in payload["outputs"].items():
        click.echo(f"  {key}: {value}")
    for db in payload["databaseAccess"]:
        click.echo(f"  database {db['instance']}: tcp {db['port']} from {', '.join(db['from'])} only (Trove access)")
    if payload["operation"] == "up" and not payload["dryRun"]:
        click.echo(
            f"  ledger: recorded {payload['recorded']}"
            if payload["recorded"]
            else "  ledger: nothing recorded (the environment runs this digest with this program)"
        )


@cli.command("database-access")
@click.argument("app")
@click.option("--env", required=True, type=ENVIRONMENT)
@click.option(
    "--manifests",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="directory of manifests to find APP in (repeatable)",
)
@click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")
@click.option("--fix", is_flag=True, help="narrow what lets in more than the manifest allows")
@output_option
def database_access(app: str, env: str, manifests: tuple[Path, ...], cloud: str | None, fix: bool, output: str) -> None:
    """Who may reach APP's databases in ENV: the cloud's Trove access and security groups against
    the manifest (its own subnet only). Exit 1 when they let in more (0 after --fix)."""
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.core.manifest import Environment
    from orchestrator.core.validation import load_manifest
    from orchestrator.services import dbaccess
    from orchestrator.services.manifests import find_manifest

    application = load_manifest(find_manifest(app, manifests))
    if Environment(env) not in application.environments:
        raise UsageError(f"application {application.id} declares no {env} environment")
    run = dbaccess.restrict if fix else dbaccess.check
    result = run(application, Environment(env), Cloud.connect(cloud))
    emit(output, result, _print_access)
    if not result["ok"]:
        raise click.exceptions.Exit(1)


def _print_access(r: dict) -> None:
    for db in r["expected"]:
        click.echo(f"{r['project']}: {db['instance']} tcp {db['port']} from {', '.join(db['from'])} only")
    for problem in r["differences"]:
        click.echo(f"  {problem}")
    click.echo("ok" if r["ok"] else f"{len(r['differences'])} difference(s)")


@cli.command("openrc")
@click.option("--cloud", help="the clouds.yaml entry [default: OS_CLOUD]")
def openrc_command(cloud: str | None) -> None:
    """Print `export OS_...` lines for plain `pulumi` from a clouds.yaml entry.

    The OpenStack provider ignores the stacks' project scope when OS_CLOUD is set (docs/operations.md):
    eval "$(govcloud openrc --cloud NAME)" before `pulumi up -s STACK`.
    """
    import shlex

    from orchestrator.adapters.cloud.credentials import openrc

    variables = openrc(cloud)
    if not variables:
        raise UsageError("name the cloud: --cloud NAME or OS_CLOUD (an entry of clouds.yaml)")
    for key, value in variables.items():
        click.echo(f"export {key}={shlex.quote(value)}")
