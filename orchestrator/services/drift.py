"""``govcloud drift``: compare each live environment's cloud with the state of its approved digest.

For each environment that is live and whose last engine run succeeded (:func:`core.drift.due`),
a refresh preview through the Automation API (the state is not written) says which properties of
the stack's resources differ in the cloud, and the cloud's listing of the stack's security groups
says which rules the stack does not hold. Each run's findings are judged against the record and
the quota policy's ignore rules (:func:`core.drift.reconcile`) and recorded in one transaction; an
error of the run (engine, cloud) is recorded as a failed run, apart from drift, and the run goes on.
Remediation is ``govcloud up`` of the approved digest (recorded ``reapplied``), never an edit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core import drift as dr
from orchestrator.core import naming
from orchestrator.errors import GovcloudError, NotFound, UsageError

#: Outputs the cloud changes by itself or that only echo the request: never drift.
VOLATILE = ("updatedAt", "updated", "allTags", "accessIpV4", "accessIpV6", "allMetadata")
SEC_GROUP = "openstack:networking/secGroup:SecGroup"
SEC_RULE = "openstack:networking/secGroupRule:SecGroupRule"


@dataclass
class StackCheck:
    application: str
    environment: str
    stack: str
    result: dr.Reconciled | None = None
    error: str | None = None

    @property
    def unit(self) -> str:
        return self.stack.split(".", 1)[0]  # naming.stack_name: <unit>.<app>.<env>

    def as_dict(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "environment": self.environment,
            "stack": self.stack,
            "ok": self.error is None,
            "error": self.error,
            **(self.result.as_dict() if self.result else {"new": [], "still": [], "ignored": [], "resolved": []}),
        }


@dataclass
class DriftReport:
    at: str
    checked: list[StackCheck] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  #: live but not checked, and why

    @property
    def failed(self) -> int:
        return sum(1 for c in self.checked if c.error)

    @property
    def drifted(self) -> int:
        return sum(1 for c in self.checked if c.result and (c.result.new or c.result.still))

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "checked": [c.as_dict() for c in self.checked],
            "skipped": self.skipped,
            "failed": self.failed,
            "drifted": self.drifted,
        }


def live_environments(
    ledger: Any, application: str | None = None, environment: str | None = None
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(application, environment, stack) of every live environment, and the (application,
    environment) pairs whose last ``up`` failed."""
    if application is not None:
        state = ledger.find_state(application)
        if state is None:
            raise NotFound(f"application {application} has no ledger entries")
        states = [state]
    else:
        states = ledger.states()
    live, failed = [], []
    for state in states:
        for env in sorted(state.provisioned):
            if environment in (None, env):
                live.append((state.application, env, naming.stack_name(state.unit, state.application, env)))
                if env in state.failed:
                    failed.append((state.application, env))
    return live, failed


def find(stack: str, located: Any, cloud: Any) -> list[dr.Finding]:
    """What differs between the stack's state and the cloud: properties, then strange rules."""
    from orchestrator.adapters import engine

    found = [
        f
        for r in engine.preview_refresh(stack, located)
        for f in (
            dr.differences(stack, r.name, r.type, r.before, r.after, VOLATILE, r.inputs)
            if r.after is not None
            else [dr.Finding(stack, r.name, r.type, "exists", True, False)]
        )
    ]
    return found + [dr.rule_finding(stack, group, rule) for group, rule in strange_rules(stack, located, cloud)]


def strange_rules(stack: str, located: Any, cloud: Any) -> list[tuple[str, dict[str, Any]]]:
    """(group, rule) of each rule in the stack's security groups that its state does not hold."""
    from orchestrator.adapters import engine

    state = engine.state_outputs(stack, located)
    groups = {
        name: (id_, not outputs.get("deleteDefaultRules")) for name, type_, id_, outputs in state if type_ == SEC_GROUP
    }
    managed = [id_ for _, type_, id_, _ in state if type_ == SEC_RULE]
    return dr.unmanaged_rules(groups, managed, cloud.security_group_rules(g for g, _ in groups.values()))


def check(
    ledger: Any,
    ignore: tuple[dr.IgnoreRule, ...],
    *,
    application: str | None = None,
    environment: str | None = None,
    now: dt.datetime,
    interval: dt.timedelta | None = None,
    cloud: str | None = None,
    finder: Callable[[str], list[dr.Finding]] | None = None,
) -> DriftReport:
    """Check each due environment (``interval``: skip those checked successfully less long ago;
    None: every one) at ``now`` (Beijing time, which also judges the ignore rules' expiry) and
    record what each run found. ``finder`` replaces the engine and the cloud (tests)."""
    from orchestrator.adapters.driftlog import DriftLog

    if environment is not None and environment not in ("test", "trial", "production"):
        raise UsageError(f"--env {environment!r}: one of test, trial, production")
    log = DriftLog(ledger.engine)
    live, failed = live_environments(ledger, application, environment)
    chosen = dr.due(live, failed, log.last_checked(), now, interval)
    report = DriftReport(now.isoformat(timespec="seconds"))
    broken = set(failed)
    report.skipped = [
        {
            "application": a,
            "environment": e,
            "stack": s,
            "why": "its last up failed: the state is not the approved digest's"
            if (a, e) in broken
            else "checked less than a day ago",
        }
        for a, e, s in live
        if (a, e, s) not in chosen
    ]
    for app, env, stack in chosen:
        if finder is None:  # only when there is something to check
            finder = _engine_finder(cloud)
        started = now
        item = StackCheck(app, env, stack)
        report.checked.append(item)
        try:
            found = finder(stack)
        except GovcloudError as exc:
            item.error = str(exc)
            log.record_error(app, env, stack, item.error, started, now)
            continue
        item.result = dr.reconcile(found, log.recorded(stack), ignore, app, env, now.date())
        log.record(app, env, stack, item.result, started, now)
    return report


def _engine_finder(cloud: str | None) -> Callable[[str], list[dr.Finding]]:
    """The real finder: the engine and the cloud, located once (a missing one stops the run)."""
    from orchestrator.adapters import engine
    from orchestrator.adapters.cloud import Cloud

    located, connection = engine.locate(), Cloud.connect(cloud)
    return lambda stack: find(stack, located, connection)


def notices(report: DriftReport, today: dt.date) -> list[Any]:
    """One ``cloud-drift`` notice per environment with new drift (what is still there was told)."""
    from orchestrator.core import notices as nt

    return [
        nt.Notice(
            "cloud-drift",
            c.application,
            c.unit,
            today,
            nt.KINDS["cloud-drift"].audience,
            environment=c.environment,
            topic=c.stack,
            payload={"findings": [f.as_dict() for f in c.result.new]},
        )
        for c in report.checked
        if c.result and c.result.new
    ]
