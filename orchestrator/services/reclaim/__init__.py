"""Reclamation of a terminated application (Art. 16): every environment, every resource, verified.

Per environment (production, trial, test) that has a stack or a project: what the engine cannot
delete (the department's data, things made by hand) emptied first; ``pulumi destroy`` with
protection lifted (or, when the project went first, the stack's resources verified gone and its
state forgotten); the sweep of the environment's project for what is ours (tagged for the
application, or unlabelled in its own project), kind by kind in the dependency order of
:mod:`orchestrator.core.reclaim` (parallel within a kind), and the destroy again if it had failed;
the unified-auth clients (also for an approved environment with neither stack nor project left);
the project itself, only once the stack holds nothing and nothing foreign is left in it; the role
assignments on it; the stack and its state; then a verifying re-listing. Each step
(:mod:`orchestrator.services.reclaim.steps`) is recorded in the ledger, ``reclaimed`` only when
all is gone. Without a configured platform the clients cannot be verified gone: that step fails.

Decides first, then acts; failures are counted and the run goes on. ``dry_run`` takes the same
steps over a view of the outside systems that notes each deletion instead of doing it
(:mod:`orchestrator.services.reclaim.dryrun`), and writes nothing. A lease ``reclaim:<app>``
keeps two operators from acting at once; a killed run is re-run after the lease expires, and
finds only what is left (every deletion ignores what is already gone).

The same steps remove one environment of a living application: :meth:`Reclaimer.expire` warns
test environments before they expire and removes them at expiry (Art. 13), under the same lease,
so it never runs at once with a reclamation of the same application.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from orchestrator.adapters.platform import NoPlatform
from orchestrator.core import lifecycle as lc
from orchestrator.core import naming
from orchestrator.core.access import DEFAULT_PROVIDER_OPS_GROUP
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.core.platform import DEFAULT_PLATFORM, AuthSettings
from orchestrator.core.reclaim import Failure, Found, Step, Summary, is_ours
from orchestrator.errors import ConflictError, ExternalError, GovcloudError, RuleError
from orchestrator.services import stacklock
from orchestrator.services.lifecycle import ExpiryReport, Lifecycle, beijing_now
from orchestrator.services.reclaim import steps
from orchestrator.services.reclaim.dryrun import DryRun
from orchestrator.services.reclaim.ports import CloudPort, LeaseStore, Platform, QuietReporter, Reporter, Stacks

#: Newest first: the reverse of the order the environments open.
ORDER = tuple(e.value for e in reversed(ENVIRONMENTS))
LEASE_TTL = dt.timedelta(minutes=15)


class Reclaimer:
    """Reclamation and test expiry by one provider actor, over the ledger, the cloud, the engine
    and the platform."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        leases: LeaseStore,
        cloud: CloudPort,
        stacks: Stacks,
        actor: lc.Actor,
        *,
        platform: Platform | None = None,
        reporter: Reporter | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        lease_ttl: dt.timedelta = LEASE_TTL,
        workers: int = steps.WORKERS,
        holder: str | None = None,
        provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP,
        backups: Any = None,
        archive: tuple[str, int] | None = None,
    ) -> None:
        """``backups``: the backup service that archives the final backups the unit named at
        termination (:meth:`orchestrator.services.backup.BackupService.archive_final`); ``archive``:
        the archive project and the days kept (default: ``govcloud.yaml`` and the quota policy)."""
        self.lifecycle, self.leases, self.actor = lifecycle, leases, actor
        self.backups, self._archive_to = backups, archive
        self.platform = platform or NoPlatform()
        self.reporter = reporter or QuietReporter()
        self.systems = steps.Systems(cloud, stacks, self.platform, self.reporter, workers, provider_ops_group)
        self.clock = clock or beijing_now
        self.lease_ttl = lease_ttl
        self.holder = holder or f"{actor.name}@{socket.gethostname()}:{os.getpid()}"

    def run(self, application: str, dry_run: bool = False) -> Summary:
        """Reclaim ``application`` (or, with ``dry_run``, say what would go). Raises on a gate."""
        state = self._gate(application)
        summary = Summary(application, dry_run)
        if state.state == lc.RECLAIMED:
            summary.reclaimed = True
            summary.note = f"{application} was reclaimed already ({state.last_at})"
            summary.deadline = self._deadline(state)
            return summary
        on, view = self._systems(dry_run)
        with self._leased(application, dry_run):
            if not self._archive(application, summary, view):
                return summary  # the final backup is not safe: nothing else is touched
            for env in ORDER:
                self._environment(state, env, summary, on, view)
            self._offsite(application, summary, view)
            if not dry_run:
                summary.deadline = self._deadline(state)
                if not summary.failures:
                    self.lifecycle.record_reclaimed(
                        application,
                        self.actor,
                        self._now(),
                        payload={"deadline": summary.deadline, "counts": summary.counts(), "foreign": summary.foreign},
                    )
                    summary.reclaimed = True
        return summary

    def expire(self, at: dt.datetime, dry_run: bool = False) -> ExpiryReport:
        """Art. 13: warn 3 days before a test environment expires, remove it completely at expiry.

        Decides first, then acts: ``dry_run`` returns the decisions; before the first removal the
        engine is checked once (a missing engine fails every removal with its one sentence,
        touching nothing; warnings, which need no engine, still go out). Each removal takes the
        steps of a reclamation for the ``test`` environment; ``test-expired`` is recorded only
        when nothing of it is left. A failure is kept in the report, and the run goes on."""
        report = ExpiryReport(dry_run, self.lifecycle.expiry_actions(at))
        if dry_run:
            return report
        missing: ExternalError | None = None
        if any(a.action == "destroy" for a in report.actions):
            try:
                self.systems.stacks.ready()
            except ExternalError as exc:
                missing = exc
        for action in report.actions:
            try:
                if action.action == "destroy":
                    if missing is not None:
                        raise missing
                    self.lifecycle.record_expiry(action, self.actor, at, check_only=True)
                    removal = self.remove_environment(action.application, "test", at)
                    action.deleted = removal.counts()
                    if not removal.reclaimed:
                        raise ExternalError(_left(action.application, removal))
                    self.lifecycle.record_expiry(
                        action, self.actor, at, payload={"counts": removal.counts(), "foreign": removal.foreign}
                    )
                else:
                    self.lifecycle.record_expiry(action, self.actor, at)
                action.done = True
            except GovcloudError as exc:
                action.error = str(exc)
        return report

    def remove_environment(self, application: str, environment: str, at: dt.datetime) -> Summary:
        """Remove ``environment`` of a living application completely, by the steps :meth:`run`
        takes for each, recorded as ``reclaim-step`` events at ``at`` under the lease
        ``reclaim:<app>``. The application's state stays. Raises (nothing touched) when the
        ledger would not take the steps or the lease is held."""
        state = self.lifecycle.state(application)
        lc.decide(state, "reclaim-step", self.actor, at, environment=environment)
        summary = Summary(application, False, at=at)
        with self._leased(application, False):
            self._environment(state, environment, summary, self.systems, None)
        summary.reclaimed = not summary.failures
        return summary

    def _archive(self, application: str, summary: Summary, view: DryRun | None) -> bool:
        """Step ``archive``, before anything is deleted: the final backups the unit named at
        termination copied into the provider's archive project (Art. 16). False when that failed:
        the run then stops, so the environments holding the only copy stay."""
        from orchestrator.services.finalbackup import confirmed_final

        named = confirmed_final(self.lifecycle.history(application))
        if not named:
            return True
        project, days = self._archive_to or _archive_settings()
        env = named[0]["environment"]
        step = Step(env, "archive", "done", f"final backup kept in project {project} for {days} days")
        try:
            if self.backups is None:
                raise ExternalError("no backup service to archive the final backup with")
            kept = self.backups.archive_final(
                application, summary.at or self._now(), days, project, dry_run=view is not None
            )
            step.detail += ": " + ", ".join(
                f"{k['kind']} {k['backup']} ({k['environment']}) until {str(k['until'])[:10]}" for k in kept
            )
        except GovcloudError as exc:
            step.fail(Failure(env, "final_backup", ", ".join(n["id"] for n in named), "", str(exc)))
            step.detail += "; reclamation stopped before deleting anything, so the final backup stays"
        self._record(summary, step, view)
        return not step.failures

    def _offsite(self, application: str, summary: Summary, view: DryRun | None) -> None:
        """Step ``offsite``, after the environments: the application's project on the backup site
        (``offsite: true``, docs/backups.md) removed with every copy in it. Not recorded when
        there is nothing there; a failure keeps ``reclaimed`` from being recorded (a re-run tries again)."""
        if self.backups is None:
            return
        try:
            found = self.backups.remove_offsite(application, summary.at or self._now(), dry_run=view is not None)
        except GovcloudError as exc:
            step = Step("production", "offsite", "done", "the application's copies on the backup site")
            step.fail(Failure("production", "offsite_project", "", "", str(exc)))
            self._record(summary, step, view)
            return
        if not found["copies"] and not found["removed"]:
            return
        envs = sorted({c["environment"] for c in found["copies"]} & set(ORDER), key=ORDER.index)
        step = Step(
            envs[0] if envs else "production",
            "offsite",
            "done",
            f"project {found['project']} on backup site {found['site']} removed with "
            f"{len(found['copies'])} offsite copies (the final backup is kept in the archive project)",
        )
        step.count("offsite copy", len(found["copies"]))
        step.count("offsite project")
        if view is not None:
            for c in found["copies"]:
                view.note(
                    "offsite copy", c["copy"], Found("offsite copy", c["copy"], f"{c['environment']} {c['kind']}")
                )
            view.note("offsite project", found["project"], Found("offsite project", found["project"], found["site"]))
        self._record(summary, step, view)

    # --- gates and lease ---------------------------------------------------------------------

    def _gate(self, application: str) -> lc.AppState:
        if self.actor.role != lc.PROVIDER:
            raise RuleError(f"reclamation is for role provider, not {self.actor.role}", rule="role", article="Art. 16")
        events = self.lifecycle.history(application)
        state = lc.fold(events)
        if state.state not in (lc.TERMINATION_APPROVED, lc.RECLAIMED):
            raise RuleError(
                f"{application} is {state.state}: reclamation needs an approved termination",
                rule="termination-approved",
                article="Art. 16",
            )
        if not any(e.type == "backup-confirmed" and (e.reason or "").strip() for e in events):
            raise RuleError(
                f"{application}: no backup confirmation with evidence in the ledger",
                rule="backup-evidence",
                article="Art. 16",
            )
        return state

    @contextmanager
    def _leased(self, application: str, dry_run: bool) -> Iterator[None]:
        """Hold ``reclaim:<application>`` (renewed at each environment and step), then release it;
        a dry run writes nothing, no lease either."""
        if dry_run:
            yield
            return
        lease = f"reclaim:{application}"
        self._take(lease)
        try:
            yield
        finally:
            self.leases.release(lease, self.holder)

    def _take(self, lease: str) -> None:
        if not self.leases.acquire(lease, self.holder, self.lease_ttl, _utcnow()):
            held = self.leases.lease(lease)
            who, until = held if held else ("someone", _utcnow())
            raise ConflictError(
                f"{lease} is held by {who} until {until.isoformat(timespec='seconds')} UTC: "
                "another reclamation is running; retry after it ends or the lease expires"
            )

    def _now(self) -> dt.datetime:
        return self.clock()

    # --- one environment ---------------------------------------------------------------------

    def _systems(self, dry_run: bool) -> tuple[steps.Systems, DryRun | None]:
        """The systems a run acts on: the real ones, or (dry) their view that only notes deletions."""
        if not dry_run:
            return self.systems, None
        view = DryRun(self.systems.cloud, self.systems.stacks, self.systems.platform)
        assert view.cloud is not None and view.stacks is not None and view.platform is not None
        on = steps.Systems(
            view.cloud,
            view.stacks,
            view.platform,
            QuietReporter(),
            self.systems.workers,
            self.systems.provider_ops_group,
        )
        return on, view

    def _environment(
        self, state: lc.AppState, env: str, summary: Summary, on: steps.Systems, view: DryRun | None
    ) -> None:
        """:meth:`_remove`, holding the stack's lease (``up`` and ``gitops apply`` take the same one)."""
        if view is not None:
            return self._remove(state, env, summary, on, view)
        with stacklock.holding(self.leases, naming.stack_name(state.unit, state.application, env)):
            return self._remove(state, env, summary, on, view)

    def _remove(self, state: lc.AppState, env: str, summary: Summary, on: steps.Systems, view: DryRun | None) -> None:
        """The one place an environment is removed (or, over a dry-run view, planned): data and
        hand-made things the engine cannot delete, the stack, leftovers, clients, the project
        (only once the stack holds nothing), grants, the stack's state, and a verifying listing."""

        def record(step: Step) -> None:
            self._record(summary, step, view)

        if view is None:
            self._take(f"reclaim:{state.application}")  # renewed for each environment
        app, unit = state.application, state.unit
        stack, project_name = naming.stack_name(unit, app, env), naming.project_name(unit, app, env)
        has_stack = on.stacks.exists(stack)
        project = found = on.cloud.find_project(project_name)
        if not has_stack and project is None:
            step = steps.clients_step(on.platform, env, unit, app)
            if self._client_outlived(state, env, step):
                record(step)
            return
        own = project is not None and is_ours(project, unit, app)
        sweep = on.cloud.sweep(project) if project is not None else None
        destroyed, clients_done = True, False
        if has_stack:
            held = steps.held(on, env, stack) if sweep is None else None
            if sweep is not None:
                record(steps.empty(on, env, project_name, sweep, unit, app, own))
                step = steps.destroy(on, env, stack, unit, app)
            elif isinstance(held, Step):
                step = held
            elif held:  # the project went first (an older govcloud, or by hand): nothing can destroy
                record(steps.clients_step(on.platform, env, unit, app))
                clients_done = True
                step = steps.forget(on, env, stack, held, unit, app)
            else:  # an empty state needs no provider: destroy says so, or why not
                step = steps.destroy(on, env, stack, unit, app)
            destroyed = step.status == "done"
            if not destroyed and sweep is not None:  # the sweep may remove what blocked it; then again
                step = steps.deferred(step, "destroyed again after the sweep")
            record(step)
            if project is not None:  # stacks keep their project on destroy; one made otherwise may not
                project = on.cloud.find_project(project_name)
                sweep = on.cloud.sweep(project) if project is not None else None
        if project is not None and sweep is not None:
            record(steps.sweep_project(sweep, env, project_name, unit, app, on.reporter, on.workers, own_project=own))
            if not destroyed:  # what made the destroy fail may be gone now
                step = steps.destroy(on, env, stack, unit, app, again=True)
                destroyed = step.status == "done"
                record(step)
        if not clients_done:
            record(steps.clients_step(on.platform, env, unit, app))
        if project is not None and sweep is not None:
            if destroyed:
                record(steps.project_step(on, env, project, sweep, unit, app))
            else:  # deleting it would leave the stack's provider scoped to nothing: no re-run could destroy
                record(
                    Step(
                        env,
                        "project",
                        "skipped",
                        f"kept project {project_name}: stack {stack} "
                        "still holds resources; a re-run destroys them, then deletes it",
                    )
                )
        if found is not None:  # gone or not: its assignments are verified by the id it had
            record(steps.access_step(on.cloud, env, found, unit, app, on.provider_ops_group))
        if has_stack:
            record(steps.stack_step(on, env, stack, destroyed))
        record(steps.verify(on, env, stack, project_name, unit, app))

    def _client_outlived(self, state: lc.AppState, env: str, step: Step) -> bool:
        """Whether the clients step of an environment with neither stack nor project counts: it
        was approved once (a client may outlive the rest), or the platform found something there,
        or could not be asked. Without a platform, only approved environments are unverifiable."""
        if env in state.approved or step.deleted or step.foreign:
            return True
        return bool(step.failures) and not isinstance(self.platform, NoPlatform)

    # --- recording ---------------------------------------------------------------------------

    def _record(self, summary: Summary, step: Step, view: DryRun | None) -> None:
        """Append the step to the ledger (renewing the lease), then report it. In a dry run,
        nothing is written: a step done over the view is planned, with what it would delete."""
        if view is not None:
            view.planned(step)
        else:
            self._take(f"reclaim:{summary.application}")
            payload = {k: v for k, v in step.as_dict().items() if k != "environment"}
            self.lifecycle.record_reclaim_step(
                summary.application, self.actor, summary.at or self._now(), step.environment, payload
            )
        summary.steps.append(step)
        self.reporter.step(step)

    def _deadline(self, state: lc.AppState) -> dict[str, Any]:
        """The reclamation clock (3 working days after approval) judged now: due date, met or not."""
        if "reclamation" not in state.clocks:
            return {}
        due, provisional = lc.due_date(state, "reclamation", self.lifecycle.calendar)
        started, ended = state.clocks["reclamation"]
        done = dt.datetime.fromisoformat(ended).date() if ended else self._now().date()
        return {
            "name": "reclamation",
            "article": "Art. 16",
            "started": started,
            "due": due.isoformat(),
            "provisional": provisional,
            "at": (ended or self._now().isoformat()),
            "met": done <= due,
            "working_days": self.lifecycle.calendar.working_days_between(lc.clock_start(state, "reclamation"), done),
        }


def _left(application: str, removal: Summary) -> str:
    """Why a removal is not done: what failed, the first few with the cloud's answer."""
    failures = removal.failures
    first = "; ".join(f"{' '.join(filter(None, (f.kind, f.id or f.name)))}: {f.error}" for f in failures[:3])
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    return (
        f"the test environment of {application} is not gone, {len(failures)} failed: {first}{more}; "
        f"its steps are in govcloud app history {application}"
    )


def _archive_settings() -> tuple[str, int]:
    """The archive project (``govcloud.yaml`` ``backups.archiveProject``) and the days a final
    backup is kept there (the quota policy's ``backups.final_backup_retention_days``)."""
    from orchestrator.services.quotas import policy
    from orchestrator.settings import current_settings

    return current_settings().backups.archive_project, policy().backups.final_backup_retention_days


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- wiring -------------------------------------------------------------------------------------


def open_platform(environ: Mapping[str, str] | None = None) -> Platform:
    """The platform's admin side from the variables ``govcloud up`` reads (docs/auth.md).

    None of them set: :class:`NoPlatform` (the clients step then fails, unverifiable). Some set
    but not all that are required: :class:`~orchestrator.errors.UsageError` naming the missing."""
    from orchestrator.adapters.platform import PLATFORMS
    from orchestrator.services.provision import AUTH_VARIABLES, platform_config
    from stacks.components import auth

    env = os.environ if environ is None else environ
    name = env.get(AUTH_VARIABLES["govcloud:authPlatform"]) or DEFAULT_PLATFORM
    if name not in PLATFORMS:
        return NoPlatform(f"the {name} platform has no reclamation adapter (orchestrator/adapters/platform.py)")
    variables = [AUTH_VARIABLES[k] for k in ("govcloud:authRealm", "govcloud:authTestRealm", "govcloud:authPlatform")]
    variables += [var for var, _ in auth.module(name).CONFIG.values()]
    if not any(env.get(v) for v in variables):
        return NoPlatform()
    config, _ = platform_config(env)
    settings = AuthSettings(config["govcloud:authRealm"], config.get("govcloud:authTestRealm"), name)
    return PLATFORMS[name](env, settings)


def open_reclaimer(
    actor: lc.Actor, cloud_name: str | None, reporter: Reporter | None = None, platform: Platform | None = None
) -> Reclaimer:
    """The service over the configured ledger, cloud, engine and platform (for the CLI and the
    tick); each connects on first use."""
    from orchestrator.adapters.cloud import Cloud
    from orchestrator.adapters.engine import EngineStacks
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.provision import AUTH_VARIABLES

    platform = platform or open_platform()
    ops_group = os.environ.get(AUTH_VARIABLES["govcloud:providerOpsGroup"]) or DEFAULT_PROVIDER_OPS_GROUP
    from orchestrator.adapters.backuplog import BackupLog
    from orchestrator.services.backup import BackupService

    ledger = Ledger.open()
    cloud = Cloud.lazy(cloud_name)
    return Reclaimer(
        Lifecycle(ledger),
        ledger,
        cloud,
        EngineStacks(),
        actor,
        platform=platform,
        reporter=reporter,
        provider_ops_group=ops_group,
        backups=BackupService(ledger, BackupLog(ledger.engine), cloud, actor),
    )
