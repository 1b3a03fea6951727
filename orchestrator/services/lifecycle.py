"""The lifecycle of Art. 10-16 as services: every step reads the ledger, lets the core decide,
and appends one event. Reading commands (status, history, deadlines) never write.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator import files
from orchestrator.core import lifecycle as lc
from orchestrator.core import notices as nt
from orchestrator.core.workdays import Calendar, default_calendar
from orchestrator.errors import GovcloudError, ManifestInvalid, NotFound, RuleError, StaleVersion, UsageError
from orchestrator.services.stacklock import Leases

if TYPE_CHECKING:  # the manifest machinery (pydantic) is imported only by the steps that read manifests
    from orchestrator.core.changes import Change
    from orchestrator.core.manifest import Application

BEIJING = dt.timezone(dt.timedelta(hours=8))


def beijing_now() -> dt.datetime:
    """Now, as the naive Beijing time the ledger states events in."""
    return dt.datetime.now(BEIJING).replace(tzinfo=None)


class Store(Leases, Protocol):
    """What the services need of the ledger (see :class:`orchestrator.adapters.ledger.Ledger`),
    the stacks' leases included (``up`` holds one per stack)."""

    engine: Any  #: the database, where the backup record lives beside the events

    def events(self, application: str) -> list[lc.Event]: ...
    def find_state(self, application: str) -> lc.AppState | None: ...
    def append(
        self, event: lc.Event, after: lc.AppState, next_due: dt.date | None, notices: Iterable[nt.Addressed] = ()
    ) -> lc.Event: ...
    def states(
        self,
        *,
        due_before: dt.date | None = None,
        with_due: bool = False,
        state: str | Sequence[str] | None = None,
        unit: str | None = None,
        by_due: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[lc.AppState]: ...
    def count(self, *, state: str | Sequence[str] | None = None, unit: str | None = None) -> int: ...
    def check(self, project: Callable[[list[lc.Event]], tuple[lc.AppState, dt.date | None]]) -> list[str]: ...
    def rebuild(self, project: Callable[[list[lc.Event]], tuple[lc.AppState, dt.date | None]]) -> int: ...


@dataclass
class ExpiryAction:
    application: str
    action: str  # warn | destroy
    expires: str
    done: bool = False
    error: str | None = None
    deleted: dict[str, int] = field(default_factory=dict)  #: destroy: what went, by kind

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExpiryReport:
    dry_run: bool
    actions: list[ExpiryAction] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(a.error is not None for a in self.actions)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "failed": self.failed, "actions": [a.as_dict() for a in self.actions]}


@dataclass
class DeadlineScan:
    """``deadlines``: what was found, and each application whose deadlines could not be judged."""

    found: list[lc.Deadline]
    problems: list[str] = field(default_factory=list)


class Lifecycle:
    """The lifecycle steps over one ledger."""

    def __init__(
        self,
        store: Store,
        calendar: Calendar | None = None,
        directory: nt.Directory | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        expected_sequence: int | None = None,
        quorum: Mapping[str, int] | None = None,
        cloud: Any = None,
    ) -> None:
        """``directory``: who hears of each step (default: ``notices`` of ``govcloud.yaml``, read
        when a step is first recorded; nobody without it). ``clock``: the recording machine's time
        (Beijing), which bounds every stated time (:func:`orchestrator.core.lifecycle.check_stated`).
        ``expected_sequence``: the ledger version the caller saw (HTTP If-Match); a step on a newer
        one is refused. ``quorum``: distinct approvers per quorum step (default: the quota policy's
        ``quorum``, read when such a step is first decided). ``cloud``: where a final backup named
        at termination is looked up (:func:`orchestrator.services.finalbackup.configured_cloud`; none:
        the ledger's record alone)."""
        self.cloud = cloud
        self.store = store
        self.calendar = calendar or default_calendar()
        self._directory = directory
        self.clock = clock or beijing_now
        self.expected_sequence = expected_sequence
        self._quorum = quorum

    @property
    def directory(self) -> nt.Directory:
        if self._directory is None:
            self._directory = configured_directory()
        return self._directory

    @property
    def quorum(self) -> Mapping[str, int]:
        if self._quorum is None:
            from orchestrator.services.quotas import policy

            self._quorum = policy().quorum.of()
        return self._quorum

    # --- the unit -------------------------------------------------------------------------

    def submit(self, path: str | Path, actor: lc.Actor, at: dt.datetime, raw: bytes | None = None) -> lc.Event:
        """Art. 11: submit (or, after a rejection, resubmit) a manifest; ``raw``, its content
        when it was not read from ``path`` (an upload named ``path``)."""
        app, data = _read_manifest(path, raw)
        payload = {"unit": app.unit, "manifest": data, "materials": _materials(app), "source": str(path)}
        return self._record(app.id, "submitted", actor, at, digest=app.digest, payload=payload, new=True)

    def change(
        self, application: str, path: str | Path, actor: lc.Actor, at: dt.datetime, raw: bytes | None = None
    ) -> lc.Event:
        """Art. 15: request a change; a major one carries a new self-test report. During testing
        (Art. 21) the same step submits an adjustment: a revised manifest the office reviews again
        and approves for test; it is tested anyway, so no new self-test report is asked."""
        payload = self.preview_change(application, path, raw)
        event, digest = payload.pop("event"), payload.pop("digest")
        return self._record(application, event, actor, at, digest=digest, payload=payload)

    def preview_change(self, application: str, path: str | Path, raw: bytes | None = None) -> dict[str, Any]:
        """What :meth:`change` would record (the event, kind, changes with their reasons, digest),
        or the rule that refuses it; nothing written."""
        from orchestrator.core.changes import is_major
        from orchestrator.services.datasafety import classify_applications

        event = lc.event_for(self.state(application), "change-requested")
        article = "Art. 21" if event == "adjustment-submitted" else "Art. 15"
        new, data = _read_manifest(path, raw)
        if new.id != application:
            raise RuleError(
                f"{path} describes {new.id}, not {application}", rule="change-same-application", article=article
            )
        old = self.manifest(application)
        live = self.state(application).provisioned
        running = {env: self.manifest_at(application, digest) for env, digest in live.items()}
        # a step that destroys data, judged against what each live environment runs, is major
        changes = classify_applications(old, new, {env: app for env, app in running.items() if app is not None})
        if not changes:
            raise RuleError(
                f"{path} is the manifest already on record ({new.digest})", rule="change-differs", article=article
            )
        kind = "major" if is_major(changes) else "minor"
        if (
            event == "change-requested"
            and kind == "major"
            and _sha(old, "self_test_report") == _sha(new, "self_test_report")
        ):
            raise RuleError(
                "a major change resubmits the Art. 11 materials: the self-test report (sha256) must be new",
                rule="major-change-materials",
                article="Art. 15",
            )
        return {
            "unit": new.unit,
            "manifest": data,
            "materials": _materials(new),
            "source": str(path),
            "kind": kind,
            "changes": [c.as_dict() for c in changes],
            "digest": new.digest,
            "event": event,
        }

    def terminate(self, application: str, actor: lc.Actor, at: dt.datetime, reason: str | None = None) -> lc.Event:
        return self._record(application, "termination-requested", actor, at, reason=reason)

    def propose_termination(
        self, application: str, actor: lc.Actor, at: dt.datetime, reason: str, payload: dict[str, Any]
    ) -> lc.Event:
        """Record that a deleted manifest proposes termination; the unit confirms with :meth:`terminate`."""
        return self._record(application, lc.TERMINATION_PROPOSED, actor, at, reason=reason, payload=payload)

    def confirm_backup(
        self, application: str, evidence: str, actor: lc.Actor, at: dt.datetime, backups: Sequence[str] = ()
    ) -> lc.Event:
        """Art. 16: the unit confirms its data is off the cloud and backed up (``evidence``), naming
        the final backups govcloud took (``backups``, ids) that reclamation keeps in the provider's
        archive: each must be in the ledger's backup record, of this application, complete, not
        deleted, and (with a cloud) still in its project (:func:`orchestrator.services.finalbackup.check_final`)."""
        ids = [b.strip() for b in backups if b and b.strip()]
        if not ids:
            return self._record(application, "backup-confirmed", actor, at, reason=evidence)
        from orchestrator.adapters.backuplog import BackupLog
        from orchestrator.services.finalbackup import check_final

        self._decide(application, "backup-confirmed", actor, at, reason=evidence)  # the actor may, first
        named = check_final(BackupLog(self.store.engine), self.store, application, ids, self.cloud)
        return self._record(application, "backup-confirmed", actor, at, reason=evidence, payload={"backups": named})

    def confirm_data_loss(
        self,
        application: str,
        environment: str,
        resources: list[str],
        evidence: str,
        actor: lc.Actor,
        at: dt.datetime,
        digest: str | None = None,
    ) -> lc.Event:
        """Issue 25: confirm that an up of ``environment`` at ``digest`` (default: the manifest on
        record) may destroy the data of ``resources``, naming the backup that keeps it."""
        return self._record(
            application,
            lc.DATA_LOSS_CONFIRMED,
            actor,
            at,
            environment=environment,
            digest=digest,
            reason=evidence,
            payload={"resources": list(resources)},
        )

    # --- the e-gov office -----------------------------------------------------------------

    def approve_data_loss(self, application: str, environment: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        """Approve the data loss the unit confirmed for ``environment``, as it stands."""
        return self._record(application, lc.DATA_LOSS_APPROVED, actor, at, environment=environment)

    def accept(self, application: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        return self._record(application, "accepted", actor, at)

    def reject(self, application: str, reason: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        """Art. 12: reject a submission, or (Art. 21) a revised manifest submitted during testing."""
        return self._record(application, lc.event_for(self.state(application), "rejected"), actor, at, reason=reason)

    def review(self, application: str, opinion: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        """Art. 12: the review opinion on a submission, or (Art. 21) on a revised manifest."""
        return self._record(application, lc.event_for(self.state(application), "reviewed"), actor, at, reason=opinion)

    def approve(self, application: str, environment: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        """Approve ``environment`` for the digest on record; it must be declared in that manifest."""
        if environment not in self.manifest(application).environments:
            raise RuleError(
                f"{application}'s manifest declares no {environment} environment",
                rule="environment-declared",
                article="Art. 11",
            )
        return self._record(application, "approved", actor, at, environment=environment)

    def extend(self, application: str, days: int, reason: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        return self._record(application, "extended", actor, at, reason=reason, payload={"days": days})

    def test_passed(self, application: str, evidence: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        return self._record(application, "test-passed", actor, at, reason=evidence)

    def approve_change(self, application: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        return self._record(application, "change-approved", actor, at)

    def approve_termination(self, application: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        return self._record(application, "termination-approved", actor, at)

    def withdraw(
        self, application: str, step: str, actor: lc.Actor, at: dt.datetime, reason: str | None = None
    ) -> lc.Event:
        """Withdraw ``actor``'s approval of quorum ``step`` (production, major-change, termination),
        given short of the quorum: it no longer counts."""
        if step not in lc.QUORUM_STEPS:
            raise UsageError(f"withdraw names a step: one of {', '.join(lc.QUORUM_STEPS)}, not {step!r}")
        environment = lc.QUORUM_STEPS[step].environment
        return self._record(
            application,
            lc.APPROVAL_WITHDRAWN,
            actor,
            at,
            environment=environment,
            reason=reason,
            payload={"step": step},
        )

    def suspend(
        self,
        application: str,
        risk: str,
        finding: str,
        reference: str,
        actor: lc.Actor,
        at: dt.datetime,
        due: str | None = None,
    ) -> lc.Event:
        """Art. 37: a high risk suspends the system (the provider's up then shuts its servers off and
        withdraws its public ingress); a low risk orders rectification by ``due``."""
        if risk not in lc.RISKS:
            raise UsageError(f"--risk {risk!r}: one of {', '.join(lc.RISKS)}")
        if (risk == "low") != (due is not None):
            raise UsageError("--due DATE goes with --risk low (a rectification deadline), and only with it")
        kind = lc.SUSPENDED if risk == "high" else lc.RECTIFICATION_ORDERED
        payload = {"risk": risk, "reference": reference, **({"due": due} if due is not None else {})}
        return self._record(application, kind, actor, at, reason=finding, payload=payload)

    def resume(self, application: str, evidence: str, actor: lc.Actor, at: dt.datetime) -> lc.Event:
        """Art. 37: the rectification is done (``evidence``): a suspension is lifted, an order closed."""
        return self._record(application, lc.RECTIFIED, actor, at, reason=evidence)

    # --- the provider ---------------------------------------------------------------------

    def record_provisioned(
        self, application: str, environment: str, actor: lc.Actor, at: dt.datetime, digest: str | None = None
    ) -> lc.Event:
        return self._record(application, "provisioned", actor, at, environment=environment, digest=digest)

    def record_deployment(
        self,
        application: str,
        environment: str,
        actor: lc.Actor,
        at: dt.datetime,
        digest: str,
        reason: str | None = None,
        payload: dict[str, Any] | None = None,
        remedies: bool = False,
    ) -> lc.Event | None:
        """Record an ``up``: ``provisioned``, or ``reapplied`` when ``environment`` already runs
        ``digest`` with another program or the up ``remedies`` cloud drift (then ``reason`` says
        why; the payload names the program applied, ``payload["program"]``); nothing (None) when
        digest and program are both unchanged and nothing drifted."""
        payload = payload or {}
        kind = lc.deployment(self.state(application), environment, digest, payload.get("program"))
        if kind == lc.UNCHANGED and remedies:
            kind = lc.REAPPLIED
        if kind == lc.UNCHANGED:
            return None
        if kind == lc.REAPPLIED:
            reason = reason or "applied again at the digest it runs"
        return self._record(
            application, kind, actor, at, environment=environment, digest=digest, reason=reason, payload=payload
        )

    def record_failure(
        self,
        application: str,
        environment: str,
        actor: lc.Actor,
        at: dt.datetime,
        digest: str,
        error: str,
        payload: dict[str, Any] | None = None,
    ) -> lc.Event:
        """Record a failed ``up`` (or one whose cloud differs from the plan) with what failed."""
        return self._record(
            application,
            lc.PROVISION_FAILED,
            actor,
            at,
            environment=environment,
            digest=digest,
            reason=error,
            payload=payload or {},
        )

    def record_reclaimed(
        self, application: str, actor: lc.Actor, at: dt.datetime, payload: dict[str, Any] | None = None
    ) -> lc.Event:
        return self._record(application, "reclaimed", actor, at, payload=payload or {})

    def record_reclaim_step(
        self, application: str, actor: lc.Actor, at: dt.datetime, environment: str | None, payload: dict[str, Any]
    ) -> lc.Event:
        """One step of a reclamation run (what it deleted, kept and failed), state unchanged."""
        return self._record(application, "reclaim-step", actor, at, environment=environment, payload=payload)

    def expiry_actions(self, at: dt.datetime) -> list[ExpiryAction]:
        """Art. 13, decided: the test environments to warn (3 days before they expire, once) and
        those to remove (expired). Nothing written; :meth:`record_expiry` records each."""
        actions = []
        for state, expires in self._running_tests():
            if at >= expires:
                actions.append(ExpiryAction(state.application, "destroy", expires.isoformat()))
            elif at >= expires - dt.timedelta(days=lc.WARN_DAYS) and state.test_warned_until != expires.isoformat():
                actions.append(ExpiryAction(state.application, "warn", expires.isoformat()))
        return actions

    def record_expiry(
        self,
        action: ExpiryAction,
        actor: lc.Actor,
        at: dt.datetime,
        payload: dict[str, Any] | None = None,
        *,
        check_only: bool = False,
    ) -> lc.Event | None:
        """Record ``expiry-warned`` or ``test-expired`` (what was removed in ``payload``); with
        ``check_only``, only raise when the ledger would refuse it (before a removal starts)."""
        kind = "test-expired" if action.action == "destroy" else "expiry-warned"
        state, event = self._decide(action.application, kind, actor, at, environment="test", payload=payload or {})
        return None if check_only else self._append(state, event)

    def _running_tests(self) -> Iterator[tuple[lc.AppState, dt.datetime]]:
        """Each application whose test environment runs, with the time it expires (Art. 13)."""
        for state in self.store.states(with_due=True):
            if "test" in state.provisioned and state.test_expires is not None:
                yield state, state.test_expires

    def expiring(self, at: dt.datetime, days: int) -> list[dict[str, Any]]:
        """The test environments that run and expire within ``days`` of ``at`` (or have expired),
        soonest first, each with whether its Art. 13 warning is due or recorded."""
        lc.check_stated(at, self.clock(), ahead=lc.LOOK_AHEAD)
        found = [
            {
                "application": state.application,
                "unit": state.unit,
                "state": state.state,
                "expires": expires.isoformat(),
                "days_left": (expires - at).total_seconds() / 86400,
                "expired": at >= expires,
                "warn_due": at >= expires - dt.timedelta(days=lc.WARN_DAYS),
                "warned": state.test_warned_until == expires.isoformat(),
            }
            for state, expires in self._running_tests()
            if expires - at <= dt.timedelta(days=days)
        ]
        return sorted(found, key=lambda i: (i["expires"], i["application"]))

    # --- reading --------------------------------------------------------------------------

    def check_provision(
        self, application: str, environment: str, digest: str, at: dt.datetime, program: str | None = None
    ) -> str:
        """The gate ``plan`` and ``up`` ask before touching ``environment``: what ``up`` with
        ``program`` would record (``provisioned``, ``reapplied``, or ``unchanged``: nothing);
        :class:`RuleError` when it may not."""
        return lc.check_deployment(self.state(application), environment, digest, at, program)

    def state(self, application: str) -> lc.AppState:
        """The state folded from the events (the source of truth)."""
        events = self.store.events(application)
        if not events:
            raise NotFound(f"application {application} has no ledger entries")
        return lc.fold(events)

    def manifest(self, application: str) -> Application:
        """The manifest on record (the latest submitted or requested), rebuilt from its snapshot."""
        from orchestrator.core.validation import validate_data

        events = self.store.events(application)
        data = next((e.payload["manifest"] for e in reversed(events) if "manifest" in e.payload), None)
        if data is None:
            raise NotFound(f"application {application} has no manifest on record")
        report = validate_data(data, f"ledger:{application}")
        if not report.valid:
            raise ManifestInvalid(report.path, report.problems)
        return report.application  # type: ignore[return-value]  # a valid report has one

    def manifest_at(self, application: str, digest: str) -> Application | None:
        """The manifest of ``application`` at ``digest``, from its snapshot (None: none on record)."""
        from orchestrator.core.validation import validate_data

        data = next(
            (
                e.payload["manifest"]
                for e in reversed(self.store.events(application))
                if "manifest" in e.payload and e.digest == digest
            ),
            None,
        )
        return None if data is None else validate_data(data, f"ledger:{application}").application

    def status(self, application: str, at: dt.datetime) -> dict[str, Any]:
        return self.status_of(self.state(application), at)

    def status_of(self, state: lc.AppState, at: dt.datetime) -> dict[str, Any]:
        """:meth:`status` of a state already folded (a page that read the events for the history too)."""
        lc.check_stated(at, self.clock(), ahead=lc.LOOK_AHEAD)
        return {
            "application": state.application,
            "unit": state.unit,
            "state": state.state,
            "sequence": state.sequence,
            "digest": state.digest,
            "approved": state.approved,
            "provisioned": state.provisioned,
            "deployed": state.deployed,
            "change": state.change,
            "termination_proposed": state.termination_proposed,
            "data_loss": state.data_loss,
            "failed": state.failed,
            "approvals": lc.pending_approvals(state),
            "suspension": state.suspension,
            "rectification": state.rectification,
            "test_expires": state.test_expires.isoformat() if state.test_expires else None,
            "production_opens": state.production_opens.isoformat() if state.production_opens else None,
            "deadlines": [d.as_dict() for d in lc.deadlines(state, self.calendar, at)],
        }

    def provisioned(self, unit: str | None = None) -> list[tuple[Application, str]]:
        """Each live (application, environment) of ``unit`` (every unit when None), with the
        manifest at the digest it was provisioned with: what the unit holds on the cloud."""
        from orchestrator.core.validation import validate_data

        found: list[tuple[Application, str]] = []
        for state in self.store.states(unit=unit):
            if not state.provisioned:
                continue
            snapshots = {
                e.digest: e.payload["manifest"] for e in self.store.events(state.application) if "manifest" in e.payload
            }
            apps: dict[str, Application | None] = {}  # each digest validated once, not once per environment
            for environment, digest in state.provisioned.items():
                if digest not in apps and digest in snapshots:
                    apps[digest] = validate_data(snapshots[digest], f"ledger:{state.application}").application
                app = apps.get(digest)
                if app is not None:
                    found.append((app, environment))
        return found

    def overview(
        self, state: str | None = None, unit: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Every application's projected state (in ``state``, of ``unit`` when given; one page of
        them with ``limit`` and ``offset``), for ``app status`` without an application."""
        return [
            {"application": s.application, "unit": s.unit, "state": s.state, "sequence": s.sequence, "digest": s.digest}
            for s in self.store.states(state=state, unit=unit, limit=limit, offset=offset)
        ]

    def queue(self, name: str, at: dt.datetime, limit: int | None = None) -> list[dict[str, Any]]:
        """One work queue, earliest due first (the first ``limit`` applications): ``office``
        (decisions waiting for the e-gov office, Art. 12-16), ``provisioning`` (approved, not
        provisioned: Art. 13-15) or ``reclamation`` (termination approved: Art. 16); each item with
        its running deadline and working days left."""
        lc.check_stated(at, self.clock(), ahead=lc.LOOK_AHEAD)
        states = {
            "office": [s for s, role in lc.WAITING_ON.items() if role == lc.EGOV],
            "provisioning": [lc.REVIEWED, lc.TESTING, lc.TRIAL, lc.CHANGE_APPROVED],
            "reclamation": [lc.TERMINATION_APPROVED],
        }[name]
        items = []
        if name != "provisioning":  # the others are one item per application: the database pages them
            found = self.store.states(state=states, by_due=True, limit=limit)
        else:
            found = (s for s in self.store.states(state=states, by_due=True) if lc.to_provision(s))
        for state in itertools.islice(found, limit):
            envs = lc.to_provision(state) if name == "provisioning" else [None]
            running = [
                d
                for d in lc.deadlines(state, self.calendar, at, running=True)
                if lc.DEADLINE_RULES[d.name].kind == "due"
            ]
            first = min(running, key=lambda d: d.due, default=None)
            for env in envs:
                items.append(
                    {
                        "application": state.application,
                        "unit": state.unit,
                        "state": state.state,
                        "sequence": state.sequence,
                        "environment": env,
                        "deadline": first.as_dict() if first else None,
                        "working_days_left": self.calendar.working_days_between(at.date(), first.due)
                        if first
                        else None,
                    }
                )
        return sorted(items, key=lambda i: (i["deadline"]["due"] if i["deadline"] else "9999", i["application"]))

    def history(self, application: str) -> list[lc.Event]:
        events = self.store.events(application)
        if not events:
            raise NotFound(f"application {application} has no ledger entries")
        return events

    def deadlines(self, at: dt.datetime, overdue: bool = False) -> DeadlineScan:
        """Running deadlines of every application at ``at``; only the overdue ones if asked. An
        application whose deadlines cannot be judged (a stated time outside the window, which
        govcloud no longer records) is a problem of its own; the others are judged."""
        now = self.clock()
        lc.check_stated(at, now, ahead=lc.LOOK_AHEAD)
        states = self.store.states(due_before=at.date()) if overdue else self.store.states(with_due=True)
        found: list[lc.Deadline] = []
        problems: list[str] = []
        for state in states:
            try:
                for started, _ in state.clocks.values():
                    lc.check_stated(dt.datetime.fromisoformat(started or ""), now, what="a deadline started")
                found += lc.deadlines(state, self.calendar, at, running=True)
            except (GovcloudError, ValueError, OverflowError) as exc:
                problems.append(f"{state.application}: {exc}")
        keep = (lambda d: d.overdue) if overdue else (lambda d: lc.DEADLINE_RULES[d.name].kind == "due")
        return DeadlineScan(
            sorted((d for d in found if keep(d)), key=lambda d: (d.due, d.application, d.name)), problems
        )

    # --- the projection -------------------------------------------------------------------

    def check_projection(self) -> list[str]:
        """``ledger check``: where the projection differs from the events (empty: they agree)."""
        return self.store.check(self._project)

    def rebuild_projection(self) -> int:
        """``ledger rebuild``: the projection recomputed from the events; the applications rebuilt."""
        return self.store.rebuild(self._project)

    def _project(self, events: list[lc.Event]) -> tuple[lc.AppState, dt.date | None]:
        return project(events, self.calendar)

    # --- one step -------------------------------------------------------------------------

    def _record(
        self, application: str, kind: str, actor: lc.Actor, at: dt.datetime, *, new: bool = False, **details: Any
    ) -> lc.Event:
        return self._append(*self._decide(application, kind, actor, at, new=new, **details))

    def _decide(
        self, application: str, kind: str, actor: lc.Actor, at: dt.datetime, *, new: bool = False, **details: Any
    ) -> tuple[lc.AppState, lc.Event]:
        """The current state (folded from the events) and the event the core allows; nothing written."""
        events = self.store.events(application)
        if not events and not new:
            raise NotFound(f"application {application} has no ledger entries")
        state = lc.fold(events, application)
        if self.expected_sequence is not None and state.sequence != self.expected_sequence:
            raise StaleVersion(
                f"{application} is at version {state.sequence}, not {self.expected_sequence}: "
                "someone acted meanwhile; nothing was recorded, read it again"
            )
        if any(kind == step.event for step in lc.QUORUM_STEPS.values()):
            details["quorum"] = self.quorum
        return state, lc.decide(state, kind, actor, at, now=self.clock(), **details)

    def _append(self, state: lc.AppState, event: lc.Event) -> lc.Event:
        after = lc.apply(state, event)
        due = lc.next_due(after, self.calendar)
        notices = self._notices(state, event, after)
        if notices:  # queued in the event's own transaction
            return self.store.append(event, after, due, notices=notices)
        return self.store.append(event, after, due)

    def _notices(self, state: lc.AppState, event: lc.Event, after: lc.AppState) -> list[nt.Addressed]:
        if self.directory.empty:
            return []
        found = nt.from_event(state, event, after, self.calendar)
        contacts = {}
        if found and self.directory.contacts and any(nt.UNIT in n.audience for n in found):
            contacts[event.application] = nt.contact_emails(self.manifest_data(event.application, event))
        return nt.address(found, self.directory, contacts)

    def manifest_data(self, application: str, event: lc.Event | None = None) -> dict[str, Any] | None:
        """The manifest snapshot on record (``event``'s own when it carries one), as plain data."""
        if event is not None and "manifest" in event.payload:
            return event.payload["manifest"]
        events = self.store.events(application)
        return next((e.payload["manifest"] for e in reversed(events) if "manifest" in e.payload), None)


def configured_directory() -> nt.Directory:
    """Who hears of what, from ``govcloud.yaml`` (``notices``); nobody when notices are not configured."""
    from orchestrator.settings import current_settings

    notices = current_settings().notices
    return notices.directory() if notices is not None else nt.NOBODY


def classify_files(old: str | Path, new: str | Path) -> list[Change]:
    """``govcloud changes OLD NEW``: the classified changes between two manifest files, with
    every step that destroys data (:func:`orchestrator.services.datasafety.classify_applications`)."""
    from orchestrator.core.validation import load_manifest
    from orchestrator.services.datasafety import classify_applications

    return classify_applications(load_manifest(old), load_manifest(new))


def project(events: list[lc.Event], calendar: Calendar | None = None) -> tuple[lc.AppState, dt.date | None]:
    """Projection of one application's events, for :meth:`Ledger.rebuild`."""
    state = lc.fold(events)
    return state, lc.next_due(state, calendar or default_calendar())


def _read_manifest(path: str | Path, raw: bytes | None = None) -> tuple[Application, Any]:
    """The valid application of ``path`` (or of ``raw``, its content) and its plain data (the
    canonical snapshot's source)."""
    from orchestrator.core.validation import load_manifest
    from orchestrator.core.yamlsource import load

    if raw is None:
        raw = files.read_bytes(path, what="manifest")
    elif len(raw) > files.MAX_BYTES:
        raise files.FileRefused(path, "file-size", f"is {len(raw)} bytes; a manifest is at most {files.MAX_BYTES}")
    return load_manifest(path, raw), load(raw)  # the data the application was validated from


def _materials(app: Application) -> dict[str, str | None]:
    return {name: _sha(app, name) for name in type(app.materials).model_fields}


def _sha(app: Application, name: str) -> str | None:
    material = getattr(app.materials, name)
    return material.sha256 if material else None
