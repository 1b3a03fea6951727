"""Report commands: ``report monthly`` (Art. 30) and ``report assessment`` (Art. 45)."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.common import emit, output_option, parse_at
from orchestrator.cli.quota import cloud_option, policy_option
from orchestrator.cli.root import cli
from orchestrator.core.ids import unit_id

lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="language of the report"
)
unit_option = click.option(
    "--unit",
    default=None,
    help="one unit only [default: every unit]",
    callback=lambda _ctx, _param, value: unit_id(value, "--unit") if value is not None else None,
)


@cli.group(short_help="Operations reports (Art. 30) and the yearly assessment figures (Art. 45).")
def report() -> None:
    """Operations reports (Art. 30) and the yearly assessment figures (Art. 45)."""


@report.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="the month reported on")
@unit_option
@lang_option
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html", show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="write the report into this directory [default: stdout]",
)
@policy_option
@cloud_option
@click.option(
    "--at",
    "at",
    metavar="DATETIME",
    help="judge at this time when it is before the month's end (Beijing time) [default: now]",
)
def monthly(
    month: str,
    unit: str | None,
    lang: str,
    fmt: str,
    out: Path | None,
    policy: Path | None,
    cloud: str | None,
    at: str | None,
) -> None:
    """The monthly report: environments, allocation and use, idle resources, deadlines, changes, capacity, advice."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import quotas
    from orchestrator.services import report as svc

    source, error = svc.connect(cloud)
    figures = svc.monthly(
        Ledger.open(), month, quotas.policy(policy), unit=unit, cloud=source, cloud_error=error, at=parse_at(at)
    )
    text = svc.render(figures, fmt, lang)
    path = svc.write(text, out, f"govcloud-report-{month}{f'-{unit}' if unit else ''}.{lang}.{fmt}")
    click.echo(path if path else text)


@report.command(short_help="The Art. 45 figures per unit.")
@click.option("--year", "year", type=int, required=True, metavar="YYYY")
@unit_option
@lang_option
@cloud_option
@output_option
def assessment(year: int, unit: str | None, lang: str, cloud: str | None, output: str) -> None:
    """The Art. 45 figures per unit: on the cloud, efficiency, security, data sharing, standards."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services import report as svc

    source, error = svc.connect(cloud)
    figures = svc.assessment(Ledger.open(), year, unit=unit, cloud=source, cloud_error=error)
    emit(output, figures.as_dict(), lambda payload: click.echo(svc.assessment_table(payload, lang)))
