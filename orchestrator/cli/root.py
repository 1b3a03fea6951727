"""The root command group every command module registers on, and where exceptions become exit codes."""

from __future__ import annotations

import click

from orchestrator import __version__
from orchestrator.core.text import printable
from orchestrator.errors import GovcloudError, ManifestInvalid


class Root(click.Group):
    """The root group: turns every :class:`GovcloudError` into one message and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ManifestInvalid as exc:
            click.echo(f"error: {printable(exc.path)}: invalid manifest", err=True)
            for problem in exc.problems:
                click.echo(f"  {printable(exc.path)}:{printable(problem)}", err=True)
            ctx.exit(exc.exit_code)
        except GovcloudError as exc:  # messages quote stored and typed text: one line, escaped
            rule = getattr(exc, "rule", "")  # a rule's refusal names the rule, as the portal's problem does
            click.echo(f"error: {printable(exc)}" + (f" [rule {printable(rule)}]" if rule else ""), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govcloud")
def cli() -> None:
    """govcloud: approved government-cloud manifests become OpenStack environments.

    Exit codes: 0 ok, 1 a rule said no (validation, gate, quota), 2 usage error,
    3 an outside system failed.
    """
