"""Reports: gather the facts (ledger, manifests on record, quota limits, the cloud), let the core
compute the figures, render them (Art. 30 monthly report, Art. 45 yearly assessment).

The cloud is asked only when one is named (``--cloud`` or ``OS_CLOUD``); when it is not named or
does not answer, the report holds allocation only and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from orchestrator.core import assessment as core_assessment
from orchestrator.core import report as core
from orchestrator.core.capacity import Measure
from orchestrator.core.lifecycle import Event
from orchestrator.core.manifest import Application
from orchestrator.core.quota import Policy
from orchestrator.core.usage import ProjectUsage
from orchestrator.core.workdays import Calendar, default_calendar
from orchestrator.errors import ExternalError, UsageError

FORMATS = ("html", "md", "json")
LANGS = ("zh", "en")


class Histories(Protocol):
    """What reports need of the ledger (:meth:`orchestrator.adapters.ledger.Ledger.histories`)."""

    def histories(self, until: dt.datetime | None = None) -> dict[str, list[Event]]: ...


class UsageSource(Protocol):
    """What reports need of the cloud (:class:`orchestrator.adapters.cloud.Cloud`)."""

    name: str

    def project_usage(self, project: str) -> ProjectUsage: ...
    def capacity(self) -> list[Measure]: ...


def facts(ledger: Histories, until: dt.datetime) -> list[core.AppFacts]:
    """Each application's events before ``until`` with the manifests they carry, validated once per digest."""
    from orchestrator.core.validation import validate_data

    out = []
    for application, events in ledger.histories(until).items():
        manifests: dict[str, Application | None] = {}
        for event in events:
            data = event.payload.get("manifest")
            if data is None or not event.digest or event.digest in manifests:
                continue
            report = validate_data(data, f"ledger:{application}")
            manifests[event.digest] = report.application if report.valid else None
        out.append(core.AppFacts(application, tuple(events), manifests))
    return out


def connect(cloud: str | None) -> tuple[UsageSource | None, str | None]:
    """The cloud named by ``--cloud``/``OS_CLOUD``, or ``None`` and the reason it is not there."""
    import os

    if not cloud and not os.environ.get("OS_CLOUD"):
        return None, "no cloud named (--cloud or OS_CLOUD)"
    from orchestrator.adapters.cloud import Cloud

    try:
        return Cloud.connect(cloud), None
    except ExternalError as exc:
        return None, str(exc)


def monthly(
    ledger: Histories,
    month: str,
    policy: Policy,
    *,
    unit: str | None = None,
    cloud: UsageSource | None = None,
    cloud_error: str | None = None,
    calendar: Calendar | None = None,
    at: dt.datetime | None = None,
) -> core.MonthlyReport:
    """The figures of ``month`` (``YYYY-MM``), with the cloud's use when ``cloud`` is given,
    judged at the month's end or at ``at`` (default now) when that is earlier."""
    from orchestrator.services.lifecycle import beijing_now

    period = core.month(month)
    at = at or beijing_now()
    gathered = facts(ledger, min(period.end, at + dt.timedelta(microseconds=1)))
    used, capacity, capacity_error = None, None, cloud_error
    if cloud is not None:
        try:
            used = project_usage(cloud, live_projects(gathered, period, unit))
        except ExternalError as exc:
            used, cloud_error = None, str(exc)
        try:  # one failing does not hide the other
            capacity = cloud.capacity()
        except ExternalError as exc:
            capacity, capacity_error = None, str(exc)
    return core.monthly(
        gathered,
        period,
        lambda name: policy.limits.of(name).model_dump(),
        calendar or default_calendar(),
        used=used,
        capacity=capacity,
        threshold=policy.capacity.threshold,
        unit=unit,
        cloud=cloud.name if cloud else None,
        cloud_error=cloud_error,
        capacity_error=capacity_error,
        at=at,
        backup_record=backup_record(ledger, min(period.end, at)),
    )


def backup_record(ledger: Histories, until: dt.datetime) -> dict[str, list[Any]] | None:
    """Each application's rows of the backup record before ``until``; None for a ledger without one."""
    engine = getattr(ledger, "engine", None)
    if engine is None:
        return None
    from orchestrator.adapters.backuplog import BackupLog

    return BackupLog(engine).by_application(until + dt.timedelta(microseconds=1))


def live_projects(gathered: Iterable[core.AppFacts], period: core.Period, unit: str | None) -> list[str]:
    """The Keystone projects of the environments live at the period's end."""
    from orchestrator.core import naming

    out = []
    for app in gathered:
        state = core.replay(app.events, period).state
        if unit is None or state.unit == unit:
            out += [naming.project_name(state.unit, state.application, env) for env in state.provisioned]
    return out


def project_usage(cloud: UsageSource, projects: Iterable[str]) -> dict[str, ProjectUsage]:
    return {p: cloud.project_usage(p) for p in projects}


def assessment(
    ledger: Histories,
    year: int,
    *,
    unit: str | None = None,
    cloud: UsageSource | None = None,
    cloud_error: str | None = None,
    calendar: Calendar | None = None,
) -> core_assessment.Assessment:
    """The Art. 45 figures of ``year`` per unit."""
    period = core.year(year)
    gathered = facts(ledger, period.end)
    used = None
    if cloud is not None:
        try:
            used = project_usage(cloud, live_projects(gathered, period, unit))
        except ExternalError as exc:
            used, cloud_error = None, str(exc)
    return core_assessment.assess(
        gathered, period, calendar or default_calendar(), used=used, unit=unit, cloud_error=cloud_error
    )


def render(report: core.MonthlyReport, fmt: str, lang: str) -> str:
    """The report as HTML (with charts), Markdown or JSON."""
    import json

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise UsageError(f"--lang must be one of {', '.join(LANGS)}")
    if fmt == "json":
        return json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str)
    from orchestrator.adapters import render as templates

    charts = _charts(report, lang) if fmt == "html" else {}
    return templates.render(f"monthly.{fmt}.j2", lang, report=report, charts=charts)


def _charts(report: core.MonthlyReport, lang: str) -> dict[str, Any]:
    """The three charts as data URIs, labelled in ``lang`` (English when no CJK font is installed)."""
    from orchestrator.adapters import charts
    from orchestrator.adapters import render as templates

    chart_lang = lang if lang != "zh" or charts.cjk_font() else "en"
    text = templates.messages(chart_lang)
    capacity = [(a.resource, a.percent) for a in report.capacity or () if a.percent is not None]
    allocation = [
        (u.unit, u.percent.get("vcpu"), u.percent.get("ram_gb"), u.percent.get("volume_gb")) for u in report.units
    ]
    c = report.compliance
    return {
        "lang": chart_lang,
        "capacity": charts.capacity(capacity, report.threshold, text) if capacity else None,
        "allocation": charts.allocation(allocation, text) if allocation else None,
        "compliance": charts.compliance(c.met, c.missed, c.open, text) if (c.met + c.missed + c.open) else None,
    }


def assessment_table(payload: dict[str, Any], lang: str) -> str:
    """The assessment as a plain-text table for people."""
    from orchestrator.adapters import render as templates

    return templates.render("assessment.txt.j2", lang, a=payload).rstrip("\n")


def write(text: str, out: Path | None, name: str) -> Path | None:
    """Write ``text`` to ``out/name`` (the directory is created); ``None`` when no directory is given."""
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(text, encoding="utf-8")
    return path
