"""The yearly assessment of Art. 45, per unit: facts in, figures out. Pure.

- **on the cloud**: applications with a live trial or production environment at year end, of the
  unit's applications in the ledger (reclaimed ones no longer count as declared);
- **resource efficiency**: live environments with an idle or over-provisioned candidate, of those
  whose use the cloud reported (judged on December, the last month of the year);
- **security**: production systems whose manifest carries the MLPS filing certificate (Art. 40);
  high-risk findings (Art. 37) are not recorded in the ledger and are reported as unknown;
- **data sharing**: catalogue entries the unit's manifests publish, and those shared unconditionally;
- **standards**: manifests on record that are valid, and deadlines of the year met (of those judged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.core import lifecycle as lc
from orchestrator.core import report
from orchestrator.core.usage import ProjectUsage
from orchestrator.core.workdays import Calendar


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent (one decimal); ``None`` when there is nothing to judge."""
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class UnitAssessment:
    unit: str
    declared: int
    on_cloud: int
    environments_judged: int  #: live environments whose use is known
    inefficient: int  #: of those, with an idle or over-provisioned candidate
    production: int
    mlps_filed: int
    high_risk_findings: int | None  #: not recorded in the ledger: None
    catalogue_entries: int
    unconditional: int
    manifests: int
    manifests_valid: int
    deadlines_met: int
    deadlines_missed: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            on_cloud_percent=share(self.on_cloud, self.declared),
            inefficient_percent=share(self.inefficient, self.environments_judged),
            mlps_filed_percent=share(self.mlps_filed, self.production),
            unconditional_percent=share(self.unconditional, self.catalogue_entries),
            manifests_valid_percent=share(self.manifests_valid, self.manifests),
            deadlines_met_percent=share(self.deadlines_met, self.deadlines_met + self.deadlines_missed),
        )
        return data


@dataclass(frozen=True)
class Assessment:
    year: str
    usage_known: bool
    cloud_error: str | None
    units: tuple[UnitAssessment, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "usage_known": self.usage_known,
            "cloud_error": self.cloud_error,
            "units": [u.as_dict() for u in self.units],
        }


def assess(
    facts: Iterable[report.AppFacts],
    period: report.Period,
    calendar: Calendar,
    *,
    used: Mapping[str, ProjectUsage] | None = None,
    unit: str | None = None,
    cloud_error: str | None = None,
) -> Assessment:
    """The Art. 45 figures of the year ``period`` for every unit (or only ``unit``)."""
    december = report.month(f"{period.start.year}-12")
    rows: dict[str, dict[str, int]] = {}
    for app in facts:
        replayed = report.replay(app.events, period)
        state = replayed.state
        if state.state == lc.NEW or (unit is not None and state.unit != unit):
            continue
        row = rows.setdefault(state.unit, dict.fromkeys(_COUNTS, 0))
        if state.state != lc.RECLAIMED:
            row["declared"] += 1
        live = state.provisioned
        row["on_cloud"] += bool({"trial", "production"} & live.keys())
        if "production" in live:
            row["production"] += 1
            row["mlps_filed"] += bool(state.materials.get("mlps_filing_certificate"))
        record = app.manifests.get(state.digest) if state.digest else None
        if state.digest:
            row["manifests"] += 1
            row["manifests_valid"] += record is not None
        if record is not None:
            entries = record.data_sharing.catalogue
            row["catalogue_entries"] += len(entries)
            row["unconditional"] += sum(e.sharing == "unconditional" for e in entries)
        if used is not None:
            figures = report.app_figures(app, state, used)
            for env in figures.environments:
                if env.status != "live":
                    continue
                row["environments_judged"] += 1
                found = report.idle_candidates(figures, env, used.get(env.project), december)
                row["inefficient"] += bool(found or report.over_provisioning(figures, env))
        for d in report.period_deadlines(replayed, calendar, period):
            if period.holds(d.due):
                row["deadlines_met"] += d.status == "met"
                row["deadlines_missed"] += d.status == "missed"
    units = tuple(UnitAssessment(unit=name, high_risk_findings=None, **row) for name, row in sorted(rows.items()))
    return Assessment(period.label, used is not None, cloud_error, units)


_COUNTS = (
    "declared",
    "on_cloud",
    "environments_judged",
    "inefficient",
    "production",
    "mlps_filed",
    "catalogue_entries",
    "unconditional",
    "manifests",
    "manifests_valid",
    "deadlines_met",
    "deadlines_missed",
)
