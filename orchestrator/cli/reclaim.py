"""``govcloud reclaim APP``: reclaim a terminated application (Art. 16), with progress.

People get a rich progress display per environment and resource kind on stderr and a summary
on stdout; ``--output json`` prints one JSON object per step on stdout, then the summary.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from orchestrator.cli.common import actor_options, make_actor, output_option, rich_safe
from orchestrator.cli.root import cli
from orchestrator.core.text import printable

if TYPE_CHECKING:
    from rich.progress import TaskID


@cli.command(short_help="Provider: reclaim every resource of a terminated application (Art 16).")
@click.argument("application")
@click.option("--dry-run", is_flag=True, help="list what would be deleted, in order, with counts; change nothing")
@click.option("--cloud", envvar="OS_CLOUD", help="cloud of clouds.yaml [env OS_CLOUD]")
@actor_options
@output_option
@click.pass_context
def reclaim(
    ctx: click.Context,
    application: str,
    dry_run: bool,
    cloud: str | None,
    output: str,
    actor_name,
    actor_role,
    actor_unit,
    actor_token_file,
) -> None:
    """Provider: reclaim every resource of APPLICATION after its termination (Art. 16, 3 working days).

    The authentication platform is reached with the variables govcloud up reads (GOVCLOUD_AUTH_REALM,
    KEYCLOAK_URL, KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET, ...); without them the clients cannot be
    verified gone and the run exits 1."""
    from orchestrator.services.reclaim import open_reclaimer

    actor = make_actor(actor_name, actor_role, actor_unit, actor_token_file)
    with JsonLines() if output == "json" else RichProgress() as reporter:
        summary = open_reclaimer(actor, cloud, reporter).run(application, dry_run)
    reporter.summary(summary.as_dict())
    ctx.exit(1 if summary.failures else 0)


class JsonLines:
    """One JSON object per step on stdout, then the summary (``{"summary": ...}``)."""

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def wave(self, environment, kind, total) -> None: ...

    def item(self, environment, found, error) -> None: ...

    def step(self, step) -> None:
        click.echo(json.dumps({"step": step.as_dict()}, ensure_ascii=False, default=str))

    def summary(self, payload: dict) -> None:
        click.echo(json.dumps({"summary": payload}, ensure_ascii=False, default=str))


class RichProgress:
    """A progress bar per environment and resource kind, and one line per step, on stderr."""

    def __enter__(self) -> RichProgress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[tuple[str, str], TaskID] = {}
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def wave(self, environment: str, kind: str, total: int) -> None:
        self.tasks[(environment, kind)] = self.progress.add_task(f"{environment} {kind}", total=total)

    def item(self, environment, found, error) -> None:
        self.progress.advance(self.tasks[(environment, found.kind)])
        if error:
            self.progress.console.print(f"[red]✗ {rich_safe(f'{environment} {found.kind} {found.id}: {error}')}")

    def step(self, step) -> None:
        style = {"done": "green", "failed": "red", "skipped": "yellow", "deferred": "yellow", "planned": "cyan"}.get(
            step.status, ""
        )
        counts = ", ".join(f"{k} {n}" for k, n in step.deleted.items())
        line = f"{step.environment:<10} {step.step:<8} {step.detail}{'  (' + counts + ')' if counts else ''}"
        self.progress.console.print(f"[{style}]{step.status:<8}[/] {rich_safe(line)}")

    def summary(self, s: dict) -> None:
        for step in s["steps"]:
            for i, f in enumerate(step.get("plan", []), 1):
                click.echo(printable(f"  {step['environment']:<10} {i:>4}. {f['kind']:<18} {f['id']}  {f['name']}"))
        verb = "would delete" if s["dry_run"] else "deleted"
        counts = ", ".join(f"{k} {n}" for k, n in s["counts"].items()) or "nothing"
        click.echo(printable(f"{s['application']}: {verb} {sum(s['counts'].values())} cloud resources: {counts}"))
        if s["engine"]:  # the engine counts its own resources (providers, components, passwords) too
            engine = ", ".join(f"{op} {n}" for op, n in s["engine"].items())
            click.echo(f"  of which through pulumi destroy; the engine's own count: {engine} engine resources")
        for f in s["foreign"]:
            click.echo(printable(f"  foreign (left for a human): {f['environment']} {f['kind']} {f['id']} {f['name']}"))
        for f in s["failures"]:
            click.echo(printable(f"  FAILED: {f['environment']} {f['kind']} {f['id']} {f['name']}: {f['error']}"))
        if s["note"]:
            click.echo(printable(f"  {s['note']}"))
        d = s["deadline"]
        if d:
            click.echo(
                f"  reclamation due {d['due']} ({d['article']}): {'met' if d['met'] else 'NOT met'}, "
                f"{d['working_days']} working days since approval"
            )
        if not s["dry_run"]:
            click.echo("  reclaimed: recorded in the ledger" if s["reclaimed"] else "  not reclaimed: see above")
