"""Commands on manifest files and the calendar: validate, digest, calendar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from orchestrator.cli.common import emit, output_option
from orchestrator.cli.root import cli
from orchestrator.errors import UsageError


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_option
def validate(paths: tuple[Path, ...], output: str) -> None:
    """Validate manifest files or directories (recursively); exit 1 if any is invalid."""
    from orchestrator.services.manifests import manifest_files, validate_paths

    reports = validate_paths(manifest_files(paths))
    emit(output, {"files": [r.as_dict() for r in reports]}, _print_reports)
    if not all(r.valid for r in reports):
        raise click.exceptions.Exit(1)


def _print_reports(payload: dict) -> None:
    from orchestrator.files import shown

    for f in payload["files"]:
        path = shown(f["path"])
        if f["valid"]:
            click.echo(f"ok       {path}  {f['digest']}")
            continue
        click.echo(f"INVALID  {path}  ({len(f['errors'])} problem(s))")
        for e in f["errors"]:
            where = f"line {e['line']}" if e["line"] else "file"
            article = f" [{e['article']}]" if e["article"] else ""
            field = f" {e['field']}:" if e["field"] else ""
            click.echo(f"  {path}:{where}:{field} {e['message']} ({e['rule']}){article}")
    bad = sum(not f["valid"] for f in payload["files"])
    click.echo(f"{len(payload['files'])} file(s), {bad} invalid")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
def digest(path: Path) -> None:
    """Print the digest (sha256 of the canonical form) of a valid manifest."""
    from orchestrator.core.validation import load_manifest

    click.echo(load_manifest(path).digest)


MAX_DAYS = 36_500  #: a century: far beyond any deadline of the regulation, and quick to count


@cli.group()
def calendar() -> None:
    """The PRC working-day calendar used for every deadline."""


@calendar.command("add")
@click.argument("date")
@click.argument("n", type=click.IntRange(min=0, max=MAX_DAYS))
@click.option("--natural", is_flag=True, help="count natural (calendar) days instead of working days")
@output_option
def calendar_add(date: str, n: int, natural: bool, output: str) -> None:
    """Print the date N working days after DATE (counting from the next day)."""
    from orchestrator.core.workdays import default_calendar

    try:
        start = dt.date.fromisoformat(date)
    except ValueError as exc:
        raise UsageError(f"DATE must be YYYY-MM-DD, got {date!r}") from exc
    cal = default_calendar()
    result = cal.add_natural_days(start, n) if natural else cal.add_working_days(start, n)
    emit(output, result.as_dict(), lambda r: click.echo(r["date"] + (" (provisional)" if r["provisional"] else "")))
