"""The ``govcloud`` command line: thin commands over the library.

Exceptions become exit codes in exactly one place (:class:`Root`); heavy libraries (pulumi,
openstacksdk, sqlalchemy) are imported inside commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import NoReturn

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


def register_commands() -> None:
    """Import the command modules; each registers its commands on :data:`cli`."""
    from orchestrator.cli import (  # noqa: F401
        drift, engine, gitops, ledger, lifecycle, manifest, notices, plan, quota, reclaim, report, serve,
    )


def main() -> None:
    register_commands()
    try:
        cli.main(prog_name="govcloud")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit as done:
        leave(done.code)


def leave(code: int | str | None) -> NoReturn:
    """Exit as ``sys.exit(code)`` does, without the interpreter's teardown once the answer is out:
    with the provider SDKs and the ledger loaded, freeing every object one by one took about
    0.3 s of CPU after ``gitops plan`` had printed its plan. Exit handlers run and the output is
    flushed as in a normal exit; with another thread still running, the normal exit (which
    waits for it) is taken."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what a normal exit runs before its teardown (logging, multiprocessing)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: as Python's own exit says it
        code = code or 120
    os._exit(code or 0)
