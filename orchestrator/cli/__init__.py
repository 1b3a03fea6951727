"""The ``govcloud`` command line: thin commands over the library.

Exceptions become exit codes in exactly one place (:class:`orchestrator.cli.root.Root`); heavy
libraries (pulumi, openstacksdk, sqlalchemy) are imported inside commands so that ``--help`` stays
fast.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from orchestrator.cli.root import cli


def register_commands() -> None:
    """Import the command modules; each registers its commands on :data:`cli`."""
    from orchestrator.cli import (  # noqa: F401
        backup,
        drift,
        engine,
        gitops,
        ledger,
        lifecycle,
        manifest,
        notices,
        plan,
        quota,
        reclaim,
        report,
        serve,
        state,
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
