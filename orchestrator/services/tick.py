"""``govcloud tick``: the scheduled run, under the ledger lease ``tick`` so that two never act at once.

Steps in order: the deadline scan, ``expire``, the capacity watch, quota drift, cloud drift (each
live environment once a day, ``govcloud drift``; new drift becomes a notice), the backups that are
due (``backup run``), then delivery of the outbox. Each step that fails is reported with its error
and the rest go on; a tick that
finds the lease held by a live holder does nothing and says who holds it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import GovcloudError

STEPS = ("deadlines", "expire", "capacity", "drift", "cloud-drift", "backups", "deliver")
LEASE = "tick"


@dataclass
class StepResult:
    name: str
    ok: bool = True
    skipped: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TickReport:
    holder: str
    ran: bool  #: False: another tick held the lease
    held_by: str | None = None
    held_until: str | None = None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.steps if not s.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "ran": self.ran,
            "held_by": self.held_by,
            "held_until": self.held_until,
            "failed": self.failed,
            "steps": [s.as_dict() for s in self.steps],
        }


#: A step: returns what it did (JSON-ready); raises when it failed. A result with ``"failed": n > 0``
#: counts as a failure too (an expiry or a delivery that went wrong for some).
Step = Callable[[], dict[str, Any]]


def run(
    leases: Any,
    steps: dict[str, Step],
    skip: frozenset[str] = frozenset(),
    ttl: dt.timedelta = dt.timedelta(minutes=10),
) -> TickReport:
    """Take the lease, run each of :data:`STEPS` not in ``skip`` (each failure kept, the rest go
    on), give the lease back. The lease is renewed before each step, so a tick killed midway
    blocks the next ones for at most ``ttl``; one that lost it (a step outlasted ``ttl`` and
    another tick took over) stops."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    report = TickReport(holder, ran=False)
    if not leases.acquire(LEASE, holder, ttl):
        held = leases.lease(LEASE)
        if held is not None:
            report.held_by, report.held_until = held[0], held[1].isoformat()
        return report
    report.ran = True
    try:
        for name in STEPS:
            result = StepResult(name)
            report.steps.append(result)
            if name in skip:
                result.skipped = True
                continue
            if not leases.acquire(LEASE, holder, ttl):
                result.ok, result.error = False, "the tick lease was lost (a step outlasted it): stopped"
                break
            try:
                result.detail = steps[name]()
                if result.detail.get("failed"):
                    result.ok, result.error = False, f"{result.detail['failed']} failed"
            except GovcloudError as exc:
                result.ok, result.error = False, str(exc)
            except Exception as exc:  # noqa: BLE001 - a bug in one step must not stop the others
                result.ok = False
                result.error = f"{exc.__class__.__name__}: {exc}"
                result.detail = {"traceback": traceback.format_exc(limit=5)}
    finally:
        leases.release(LEASE, holder)
    return report


def default_steps(
    ledger: Any,
    settings: Any,
    now: dt.datetime,
    *,
    actor: Callable[[], Any],
    cloud: str | None,
    policy: str | None = None,
) -> dict[str, Step]:
    """The steps over the configured ledger, cloud and channels; ``now`` in Beijing time.
    ``actor`` is called by ``expire`` and, when an environment is live, ``backups`` (the provider
    the removals and backups are recorded for)."""
    from orchestrator.core import notices as nt
    from orchestrator.services.lifecycle import BEIJING
    from orchestrator.services.notices import Notices

    notices = Notices(ledger, settings)
    today = now.date()
    utc = now.replace(tzinfo=BEIJING).astimezone(dt.UTC).replace(tzinfo=None)

    def expire() -> dict[str, Any]:
        from orchestrator.services.reclaim import open_reclaimer

        return open_reclaimer(actor(), cloud).expire(now).as_dict()

    def capacity() -> dict[str, Any]:
        from orchestrator.adapters.cloud import Cloud
        from orchestrator.core.capacity import assess_all
        from orchestrator.services import quotas

        threshold = quotas.policy(policy).capacity.threshold
        found = nt.capacity(assess_all(Cloud.connect(cloud).capacity(), threshold), threshold, today)
        return {"warnings": [n.topic for n in found], "queued": notices.queue(found)}

    def drift() -> dict[str, Any]:
        from orchestrator.adapters.cloud import Cloud
        from orchestrator.core import naming
        from orchestrator.core.manifest import Environment
        from orchestrator.core.quota.drift import differences
        from orchestrator.core.sizing import quotas as allocated
        from orchestrator.services.lifecycle import Lifecycle

        connection, found, checked = Cloud.connect(cloud), [], 0
        for app, env in Lifecycle(ledger).provisioned():
            expected = allocated(app.environments[Environment(env)].resources)
            actual = connection.project_quotas(naming.project_name(app.unit, app.id, env))
            found += nt.drift(app.id, app.unit, env, differences(expected, actual), today)
            checked += 1
        return {
            "checked": checked,
            "drifted": [f"{n.application} {n.environment}" for n in found],
            "queued": notices.queue(found),
        }

    def cloud_drift() -> dict[str, Any]:
        from orchestrator.core.drift import INTERVAL
        from orchestrator.services import drift as svc
        from orchestrator.services import quotas

        report = svc.check(ledger, quotas.policy(policy).drift_ignore, now=now, interval=INTERVAL, cloud=cloud)
        found = svc.notices(report, today)
        return {
            "checked": len(report.checked),
            "drifted": report.drifted,
            "failed": report.failed,
            "queued": notices.queue(found),
        }

    def backups() -> dict[str, Any]:
        from orchestrator.adapters.backuplog import BackupLog
        from orchestrator.adapters.cloud import Cloud
        from orchestrator.core.backups import archive_expired
        from orchestrator.services.backup import BackupService, live_environments

        log = BackupLog(ledger.engine)
        if not live_environments(ledger) and not archive_expired(log.archive_record(), now):
            return {"environments": 0, "taken": 0, "deleted": 0, "missed": []}
        runs = BackupService(ledger, log, Cloud.lazy(cloud), actor()).run(now)
        missed = [f"{r.application} {r.environment}: {m}" for r in runs for m in r.missed]
        return {
            "environments": len(runs),
            "due": sum(r.due for r in runs),
            "taken": sum(len(r.taken) for r in runs),
            "deleted": sum(len(r.deleted) for r in runs),
            "missed": missed,
            "failed": len(missed),
        }

    def deliver() -> dict[str, Any]:
        report = notices.deliver(utc).as_dict()
        return {k: v for k, v in report.items() if k != "messages"} | {"messages": len(report["messages"])}

    return {
        "deadlines": lambda: notices.scan(now),
        "expire": expire,
        "capacity": capacity,
        "drift": drift,
        "cloud-drift": cloud_drift,
        "backups": backups,
        "deliver": deliver,
    }
