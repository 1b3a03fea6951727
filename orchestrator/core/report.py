"""The monthly operations report of Art. 30: facts in, figures out. Pure.

Facts: each application's ledger events up to the end of the month with the manifests they name
(:class:`AppFacts`), the units' quota limits, what the cloud reports in use per project (``None``
when the cloud was not reachable: the report then holds allocation only and says so), the cloud's
capacity measures and the 70% threshold of Art. 31.

Figures (:class:`MonthlyReport`): per unit and application the environments and lifecycle state at
month end, allocation against the unit's limits, use, idle and over-provisioned candidates
(:mod:`orchestrator.core.usage`), the deadlines that fell in the month (met or missed, with their
working-day counts), the month's changes and terminations, capacity, and advice. Advice comes from
:mod:`orchestrator.core.advice`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orchestrator.core import backups, naming, usage
from orchestrator.core import lifecycle as lc
from orchestrator.core.advice import Advice, capacity_advice, unit_advice
from orchestrator.core.capacity import Assessment, Measure, assess_all
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.manifest import Application
from orchestrator.core.quota.facts import ZERO, add_totals
from orchestrator.core.quota.policy import MEASURES
from orchestrator.core.sizing import Totals, quotas, totals
from orchestrator.core.workdays import Calendar
from orchestrator.errors import UsageError

#: Events listed as the month's changes and terminations (Art. 15-16).
CHANGE_EVENTS = (
    "change-requested",
    "change-approved",
    "change-applied",
    "termination-requested",
    "backup-confirmed",
    "termination-approved",
    "reclaimed",
)


@dataclass(frozen=True)
class Period:
    """A span of stated (Beijing) time: ``start`` inclusive, ``end`` exclusive."""

    label: str
    start: dt.datetime
    end: dt.datetime

    @property
    def last_moment(self) -> dt.datetime:
        return self.end - dt.timedelta(microseconds=1)

    def holds(self, moment: dt.datetime | dt.date) -> bool:
        if isinstance(moment, dt.datetime):
            return self.start <= moment < self.end
        return self.start.date() <= moment < self.end.date()


def month(text: str) -> Period:
    """``"2026-11"`` -> November 2026."""
    try:
        start = dt.datetime.strptime(text, "%Y-%m")
        end = dt.datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)  # 9999-12 has none
    except ValueError as exc:
        raise UsageError(f"--month must be YYYY-MM, a month before 9999-12, got {text!r}") from exc
    return Period(text, start, end)


def year(value: int) -> Period:
    """``2026`` -> the year 2026 (one that ends before the calendar's last: 1 to 9998)."""
    if not 1 <= value < dt.MAXYEAR:
        raise UsageError(f"--year must be a year from 1 to {dt.MAXYEAR - 1}, got {value}")
    return Period(str(value), dt.datetime(value, 1, 1), dt.datetime(value + 1, 1, 1))


@dataclass(frozen=True)
class AppFacts:
    """One application's events up to the period's end, and the manifests (by digest) they name;
    a digest mapped to ``None`` had a manifest that is not valid."""

    application: str
    events: tuple[lc.Event, ...]
    manifests: Mapping[str, Application | None] = field(default_factory=dict)


# --- replaying one application --------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A change or termination step of the period."""

    application: str
    type: str
    at: dt.datetime
    environment: str | None = None
    kind: str | None = None  #: major or minor, for change requests

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class Replay:
    """The state at the period's end, every clock ever started, the period's changes."""

    state: lc.AppState
    clocks: dict[tuple[str, str | None], tuple[str | None, int]]  #: (name, start) -> (end, test days)
    changes: tuple[Change, ...]


def replay(events: Sequence[lc.Event], period: Period, until: dt.datetime | None = None) -> Replay:
    """Fold the events stated before the period's end (and not after ``until``), keeping each
    clock and the period's changes."""
    state = lc.AppState(events[0].application if events else "")
    clocks: dict[tuple[str, str | None], tuple[str | None, int]] = {}
    changes: list[Change] = []
    for event in events:
        if event.at >= period.end or (until is not None and event.at > until):
            break
        before = state.state
        state = lc.apply_recorded(state, event)
        for name, (start, end) in state.clocks.items():
            clocks[(name, start)] = (end, state.test_days)
        kind = "change-applied" if event.type == "provisioned" and before == lc.CHANGE_APPROVED else event.type
        if kind in CHANGE_EVENTS and period.holds(event.at):
            changes.append(Change(event.application, kind, event.at, event.environment, event.payload.get("kind")))
    return Replay(state, clocks, tuple(changes))


def period_deadlines(
    replayed: Replay, calendar: Calendar, period: Period, judged_at: dt.datetime | None = None
) -> list[lc.Deadline]:
    """The due-date deadlines that fell in the period (due or done in it), judged at
    ``judged_at`` (default: the period's end; a report of the running month judges now: a
    deadline due later in the month is still open)."""
    out = []
    for (name, start), (end, test_days) in replayed.clocks.items():
        if lc.DEADLINE_RULES[name].kind != "due":
            continue
        one = lc.AppState(replayed.state.application, clocks={name: [start, end]}, test_days=test_days)
        at = min(judged_at, period.last_moment) if judged_at is not None else period.last_moment
        (deadline,) = lc.deadlines(one, calendar, at)
        if period.holds(deadline.due) or (deadline.done is not None and period.holds(deadline.done)):
            out.append(deadline)
    return sorted(out, key=lambda d: (d.due, d.name))


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvFigures:
    """One environment at the period's end: its status, allocation and (if known) use."""

    env: str
    status: str  #: live | approved | declared | expired | reclaimed
    project: str
    allocated: dict[str, int]  #: the measures of the quota policy
    project_allocated: dict[str, float]  #: what the project's own quotas hold: vcpu, volume_gb, object_gb
    used: dict[str, float | None] | None  #: vcpu of running servers, attached volume GB, object GB; None: not asked
    unknown: dict[str, str] = field(default_factory=dict)  #: measure -> why the cloud did not tell its use


@dataclass(frozen=True)
class AppFigures:
    application: str
    name: str
    unit: str
    state: str
    mlps_level: int | None
    environments: tuple[EnvFigures, ...]


@dataclass(frozen=True)
class Candidate:
    """An idle or over-provisioned resource: ``kind`` says which rule, ``numbers`` why."""

    kind: str  #: server-shutoff | volume-unattached | container-empty | over-provisioned
    unit: str
    application: str
    env: str
    resource: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class DeadlineFigure:
    unit: str
    application: str
    name: str
    article: str
    start: dt.date
    due: dt.date
    done: dt.date | None
    status: str
    taken: int  #: days from the start to done (or to the judging time), of the kind ``count``
    allowed: int
    count: str  #: working | natural: the deadline's own kind of day, for both ``taken`` and ``allowed``

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            start=self.start.isoformat(), due=self.due.isoformat(), done=self.done.isoformat() if self.done else None
        )
        return data


@dataclass(frozen=True)
class BackupFigure:
    """One live environment's backups at the judging moment (Art. 30) and its restore drills of the
    quarter (Art. 44)."""

    application: str
    env: str
    last_good: dt.datetime | None  #: when its last complete backup was taken
    kinds: tuple[str, ...]  #: the kinds of that backup (``volume-snapshot``: volumes only as snapshots)
    misses: int  #: backups missed in the period (failed, blocked by a quota, project unreachable)
    overdue: bool  #: a scheduled slot passed more than :data:`BACKUP_GRACE` ago with no backup since
    drills: int  #: restore drills of the quarter
    drill_ok: bool | None  #: the last drill of the quarter passed; None: no drill this quarter
    drill_due: bool  #: no passed drill this quarter
    offsite: bool = False  #: the manifest promises copies at the backup site (``offsite: true``)
    offsite_last: dt.datetime | None = None  #: when a backup was last copied to the site
    #: offsite promised, a backup taken, and no copy at the site since the last good backup
    offsite_missing: bool = False

    @property
    def status(self) -> str:
        if self.overdue:
            return "overdue"
        return "offsite-missing" if self.offsite_missing else "drill-due" if self.drill_due else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "last_good": self.last_good.isoformat() if self.last_good else None,
            "offsite_last": self.offsite_last.isoformat() if self.offsite_last else None,
            "status": self.status,
        }


#: How long after a scheduled slot a backup may still come (the scheduler runs every 10 minutes;
#: a backup of a large database takes hours) before the report calls the environment overdue.
BACKUP_GRACE = dt.timedelta(hours=24)


def quarter_start(moment: dt.datetime) -> dt.datetime:
    """The first moment of ``moment``'s calendar quarter."""
    return dt.datetime(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1)


def backup_figure(
    application: str,
    env: str,
    schedule: str,
    record: Sequence[backups.Entry],
    period: Period,
    judged: dt.datetime,
    offsite: bool = False,
) -> BackupFigure:
    """The backup figures of one live environment from its rows of the backup record (``offsite``:
    the manifest promises copies at the backup site)."""
    rows = [e for e in record if e.environment == env and e.at <= judged]
    taken = [e for e in rows if e.action == backups.TAKEN]
    last = max((e.at for e in taken), default=None)
    slot = backups.last_slot(schedule, judged - BACKUP_GRACE)
    drills = [e for e in rows if e.action == backups.DRILL and e.at >= quarter_start(judged)]
    offsite_last = max((e.at for e in rows if e.action == backups.OFFSITE_COPIED), default=None)
    return BackupFigure(
        application,
        env,
        last,
        tuple(sorted({e.kind for e in taken if e.at == last})),
        sum(1 for e in rows if e.action == backups.MISSED and period.holds(e.at) and not e.detail.get("restore")),
        last is None or last < slot,
        len(drills),
        bool(drills[-1].detail.get("ok")) if drills else None,
        not any(d.detail.get("ok") for d in drills),
        offsite,
        offsite_last,
        offsite and last is not None and (offsite_last is None or offsite_last < last),
    )


@dataclass(frozen=True)
class UnitFigures:
    unit: str
    applications: tuple[AppFigures, ...]
    allocated: dict[str, int]
    limits: dict[str, int]
    percent: dict[str, float | None]
    over: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    deadlines: tuple[DeadlineFigure, ...]
    changes: tuple[Change, ...]
    advice: tuple[Advice, ...]
    backups: tuple[BackupFigure, ...] = ()  #: each live environment with backups enabled (when the record was read)


@dataclass(frozen=True)
class Compliance:
    met: int
    missed: int
    open: int

    @property
    def percent_met(self) -> float | None:
        judged = self.met + self.missed
        return round(100 * self.met / judged, 1) if judged else None


@dataclass(frozen=True)
class MonthlyReport:
    period: str
    unit: str | None  #: the one unit reported on, or None for every unit
    cloud: str | None
    usage_known: bool
    cloud_error: str | None  #: why use is not known (no cloud named, or it did not answer)
    threshold: float
    capacity: tuple[Assessment, ...] | None
    units: tuple[UnitFigures, ...]
    compliance: Compliance
    advice: tuple[Advice, ...]  #: for the whole cloud (capacity)
    capacity_error: str | None = None  #: why the capacity is not known
    judged_at: dt.datetime | None = None  #: the time the deadlines and states are judged at

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["compliance"]["percent_met"] = self.compliance.percent_met
        for unit, figures in zip(data["units"], self.units, strict=True):
            unit["deadlines"] = [d.as_dict() for d in figures.deadlines]
            unit["changes"] = [c.as_dict() for c in figures.changes]
            unit["backups"] = [b.as_dict() for b in figures.backups]
        return data


def monthly(
    facts: Iterable[AppFacts],
    period: Period,
    limits: Callable[[str], Mapping[str, int]],
    calendar: Calendar,
    *,
    used: Mapping[str, usage.ProjectUsage] | None = None,
    capacity: Sequence[Measure] | None = None,
    threshold: float = 0.7,
    unit: str | None = None,
    cloud: str | None = None,
    cloud_error: str | None = None,
    capacity_error: str | None = None,
    at: dt.datetime | None = None,
    backup_record: Mapping[str, Sequence[backups.Entry]] | None = None,
) -> MonthlyReport:
    """The figures of the month. ``limits(unit)`` gives a unit's quota limits; ``used`` maps project
    names to their use (``None``: the cloud was not reachable). Judged at the period's end, or at
    ``at`` when that is earlier (the running month: what is due later is still open).
    ``backup_record``: each application's rows of the backup record (the backup section)."""
    judged = min(at, period.last_moment) if at is not None else period.last_moment
    by_unit: dict[str, list[tuple[AppFigures, Replay]]] = {}
    found: dict[str, list[BackupFigure]] = {}
    for app in facts:
        replayed = replay(app.events, period, judged)
        state = replayed.state
        if state.state == lc.NEW or (unit is not None and state.unit != unit):
            continue
        by_unit.setdefault(state.unit, []).append((app_figures(app, state, used), replayed))
        for env, digest in sorted(state.provisioned.items()):
            policy = getattr(manifest_of(app, digest), "backup", None)
            if backup_record is not None and policy is not None and policy.enabled:
                found.setdefault(state.unit, []).append(
                    backup_figure(
                        app.application,
                        env,
                        policy.schedule,
                        backup_record.get(app.application, ()),
                        period,
                        judged,
                        policy.offsite,
                    )
                )
    units = tuple(
        replace(
            unit_figures(name, items, dict(limits(name)), calendar, period, used, judged),
            backups=tuple(found.get(name, ())),
        )
        for name, items in sorted(by_unit.items())
    )
    assessed = tuple(assess_all(capacity, threshold)) if capacity is not None else None
    statuses = [d.status for u in units for d in u.deadlines]
    return MonthlyReport(
        period=period.label,
        unit=unit,
        cloud=cloud,
        usage_known=used is not None,
        cloud_error=cloud_error,
        threshold=threshold,
        capacity=assessed,
        units=units,
        compliance=Compliance(statuses.count("met"), statuses.count("missed"), statuses.count("open")),
        advice=tuple(capacity_advice(assessed or (), threshold)),
        capacity_error=capacity_error if capacity is None else None,
        judged_at=judged,
    )


def manifest_of(app: AppFacts, digest: str | None) -> Application | None:
    return app.manifests.get(digest) if digest else None


def app_figures(app: AppFacts, state: lc.AppState, used: Mapping[str, usage.ProjectUsage] | None) -> AppFigures:
    """Each declared environment of the manifest on record, with its status at the period's end."""
    record = manifest_of(app, state.digest)
    envs = []
    for env in (e for e in ENVIRONMENTS if record and e in record.environments):
        name = str(env)
        project = naming.project_name(state.unit, state.application, name)
        live = name in state.provisioned
        source = (manifest_of(app, state.provisioned[name]) if live else None) or record
        spec = source.environments.get(env) if source else None
        allocated = totals(spec.resources) if (live and spec) else ZERO
        q = quotas(spec.resources) if (live and spec) else None
        envs.append(
            EnvFigures(
                env=name,
                status=env_status(state, name),
                project=project,
                allocated={m: getattr(allocated, m) for m in MEASURES},
                project_allocated={
                    "vcpu": q.compute["cores"] if q else 0,
                    "volume_gb": q.block_storage["gigabytes"] if q else 0,
                    "object_gb": allocated.object_gb,
                },
                used=project_use(used.get(project)) if (used is not None and live) else None,
                unknown=used[project].measure_unknown() if (used is not None and live and project in used) else {},
            )
        )
    return AppFigures(
        state.application,
        record.metadata.name if record else state.application,
        state.unit,
        state.state,
        record.mlps_level if record else None,
        tuple(envs),
    )


def env_status(state: lc.AppState, env: str) -> str:
    if state.state == lc.RECLAIMED:
        return "reclaimed"
    if env in state.provisioned:
        return "live"
    if env == "test" and state.test_started:
        return "expired"
    return "approved" if env in state.approved else "declared"


def project_use(found: usage.ProjectUsage | None) -> dict[str, float | None]:
    """Use of a live project (``None`` where the cloud did not tell); a project the cloud does
    not know uses nothing."""
    if found is None:
        return {"vcpu": 0, "volume_gb": 0, "object_gb": 0.0}
    gb = found.object_gb
    return {"vcpu": found.vcpu, "volume_gb": found.volume_gb, "object_gb": None if gb is None else round(gb, 3)}


def unit_figures(
    unit: str,
    items: list[tuple[AppFigures, Replay]],
    limits: dict[str, int],
    calendar: Calendar,
    period: Period,
    used: Mapping[str, usage.ProjectUsage] | None = None,
    judged_at: dt.datetime | None = None,
) -> UnitFigures:
    """A unit's allocation against its limits, its candidates, deadlines, changes and advice."""
    apps = tuple(a for a, _ in items)
    allocated = add_totals(Totals(**e.allocated, world_open_rules=0) for a in apps for e in a.environments)
    alloc: dict[str, int] = {m: getattr(allocated, m) for m in MEASURES}
    percent: dict[str, float | None] = {
        m: (round(100 * alloc[m] / limits[m], 1) if limits.get(m) else None) for m in MEASURES
    }
    candidates = tuple(
        c
        for a in apps
        for e in a.environments
        for c in [*idle_candidates(a, e, (used or {}).get(e.project), period), *over_provisioning(a, e)]
    )
    deadlines = tuple(
        DeadlineFigure(
            unit,
            d.application,
            d.name,
            d.article,
            d.start,
            d.due,
            d.done,
            d.status,
            d.days,
            d.due.toordinal() - d.start.toordinal() if d.count == "natural" else lc.DEADLINE_RULES[d.name].days,
            d.count,
        )
        for _, r in items
        for d in period_deadlines(r, calendar, period, judged_at)
    )
    changes = tuple(c for _, r in items for c in r.changes)
    over = tuple(m for m in MEASURES if alloc[m] > limits.get(m, 0))
    advice = unit_advice(unit, candidates, alloc, limits, percent, over, deadlines)
    return UnitFigures(unit, apps, alloc, limits, percent, over, candidates, deadlines, changes, tuple(advice))


def over_provisioning(app: AppFigures, env: EnvFigures) -> list[Candidate]:
    """Measures of a live environment whose use is far below its allocation."""
    if env.used is None:
        return []
    out = []
    for measure in ("vcpu", "volume_gb", "object_gb"):
        allocated, in_use = env.project_allocated[measure], env.used[measure]
        if in_use is not None and usage.over_provisioned(allocated, in_use):
            out.append(
                Candidate(
                    "over-provisioned",
                    app.unit,
                    app.application,
                    env.env,
                    measure,
                    {
                        "allocated": allocated,
                        "used": in_use,
                        "percent": round(100 * in_use / allocated, 1),
                        "suggested": suggested(in_use),
                    },
                )
            )
    return out


def suggested(in_use: float, target: float = 0.7) -> int:
    """An allocation that puts today's use at ``target`` of it (at least 1)."""
    return max(1, math.ceil(in_use / target))


def idle_candidates(
    app: AppFigures, env: EnvFigures, found: usage.ProjectUsage | None, period: Period
) -> list[Candidate]:
    """Servers shut off all month, volumes unattached 30 days, empty containers of a live
    environment; a part the cloud did not tell yields none (it is reported unknown)."""
    if found is None or env.status != "live":
        return []
    out = []
    end = period.end
    for s in found.servers:
        if usage.idle_server(s, period.start):
            out.append(
                Candidate(
                    "server-shutoff",
                    app.unit,
                    app.application,
                    env.env,
                    s.name,
                    {"vcpu": s.vcpu, "ram_gb": s.ram_gb, "days": (end - s.since).days if s.since else None},
                )
            )
    for v in found.volumes:
        if usage.idle_volume(v, end):
            out.append(
                Candidate(
                    "volume-unattached",
                    app.unit,
                    app.application,
                    env.env,
                    v.name,
                    {"size_gb": v.size_gb, "days": (end - v.since).days if v.since else None},
                )
            )
    for c in found.containers:
        if usage.idle_container(c):
            out.append(Candidate("container-empty", app.unit, app.application, env.env, c.name, {"objects": 0}))
    return out
