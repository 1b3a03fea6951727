"""Reclamation of a terminated application (Art. 16): every environment, every resource, verified.

Per environment (production, trial, test) that has a stack or a project: what the engine cannot
delete (the department's data, things made by hand) emptied first; ``pulumi destroy`` with
protection lifted (or, when the project went first, the stack's resources verified gone and its
state forgotten); the sweep of the environment's project for what is ours (tagged for the
application, or unlabelled in its own project), kind by kind in the dependency order of
:mod:`orchestrator.core.reclaim` (parallel within a kind), and the destroy again if it had failed;
the unified-auth clients (also for an approved environment with neither stack nor project left);
the project itself, only once the stack holds nothing and nothing foreign is left in it; the role
assignments on it; the stack and its state; then a verifying re-listing. Each step is recorded in the ledger, ``reclaimed`` only when all is
gone. Without a configured platform the clients cannot be verified gone: that step fails.

Decides first, then acts; failures are counted and the run goes on. A lease ``reclaim:<app>``
keeps two operators from acting at once; a killed run is re-run after the lease expires, and
finds only what is left (every deletion ignores what is already gone). ``dry_run`` writes nothing.

The same steps remove one environment of a living application: ``govcloud expire`` removes an
expired test environment (Art. 13) through :meth:`Reclaimer.reclaim_environment`, under the same
lease, so it never runs at once with a reclamation of the same application.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.core import lifecycle as lc
from orchestrator.core import naming
from orchestrator.core.access import DEFAULT_PROVIDER_OPS_GROUP, Assignment, decide_assignments
from orchestrator.core.platform import DEFAULT_PLATFORM, AuthSettings
from orchestrator.core.reclaim import STATE_KINDS, Decision, Found, before_destroy, decide, is_ours, state_check
from orchestrator.errors import ConflictError, GovcloudError, RuleError

if TYPE_CHECKING:
    from orchestrator.adapters.engine import StateResource

ENVIRONMENTS = ("production", "trial", "test")
LEASE_TTL = dt.timedelta(minutes=15)
WORKERS = 16  #: deletions of one kind at once (mostly waiting: servers, volumes)


# --- what the service needs of the outside world ------------------------------------------------


class Sweep(Protocol):
    """One project's resources (:class:`orchestrator.adapters.cloud.sweep.ProjectSweep`)."""

    def inventory(self) -> list[Found]: ...
    def delete(self, found: Found) -> None: ...


class CloudPort(Protocol):
    """The projects of the cloud (:class:`orchestrator.adapters.cloud.Cloud`)."""

    user_id: str | None  #: the user our credentials authenticate as

    def find_project(self, name: str) -> Found | None: ...
    def sweep(self, project: Found) -> Sweep: ...
    def exists(self, kind: str, id: str, project_id: str) -> bool: ...
    def delete_project(self, project: Found) -> None: ...
    def role_assignments(self, project_id: str) -> list[Assignment]: ...
    def delete_role_assignment(self, assignment: Assignment) -> None: ...


class Stacks(Protocol):
    """Whole stacks in the engine's backend (see :class:`PulumiStacks`)."""

    def ready(self) -> None:
        """Raise :class:`~orchestrator.errors.ExternalError` when the engine is missing."""
        ...

    def exists(self, stack: str) -> bool: ...
    def held(self, stack: str) -> list[StateResource]:
        """The cloud objects the stack's state holds (providers left out)."""
        ...

    def destroy(self, stack: str) -> dict[str, int]:
        """``pulumi destroy``, protection lifted first (reclamation removes everything)."""
        ...

    def remove(self, stack: str, force: bool = False) -> None: ...


class Platform(Protocol):
    """The unified-authentication platform's admin side
    (:class:`orchestrator.adapters.platform.KeycloakPlatform`)."""

    where: str  #: for people: which platform

    def clients(self, unit: str, app: str, env: str) -> Decision:
        """The environment's clients: ours (``delete``) and look-alikes that are not (``foreign``)."""
        ...

    def delete_client(self, found: Found) -> None:
        """Delete one client of :meth:`clients`; gone already is fine."""
        ...


@dataclass(frozen=True)
class NoPlatform:
    """No platform configured: nobody can say the clients are gone, so the clients step fails."""

    reason: str = "no unified-authentication platform is configured"
    where: str = "no platform"

    def clients(self, unit: str, app: str, env: str) -> Decision:
        raise self._unverifiable(f"the clients of {unit}/{app} ({env})")

    def delete_client(self, found: Found) -> None:
        raise self._unverifiable(f"the clients ({found.name})")

    def _unverifiable(self, what: str) -> RuleError:
        return RuleError(f"{self.reason}: cannot verify that {what} are gone; configure the platform as for "
                         "govcloud up (GOVCLOUD_AUTH_REALM, KEYCLOAK_URL, KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET)",
                         rule="clients-verified", article="Art. 16")


class LeaseStore(Protocol):
    def acquire(self, name: str, holder: str, ttl: dt.timedelta, now: dt.datetime | None = None) -> bool: ...
    def lease(self, name: str) -> tuple[str, dt.datetime] | None: ...
    def release(self, name: str, holder: str) -> None: ...


class PulumiStacks:
    """:class:`Stacks` through the engine adapter; the engine is located on first use (exit 3 if missing)."""

    def __init__(self) -> None:
        self._engine: Any = None

    def _located(self) -> Any:
        from orchestrator.adapters import engine

        if self._engine is None:
            self._engine = engine.locate()
        return self._engine

    def ready(self) -> None:
        self._located()

    def exists(self, stack: str) -> bool:
        from orchestrator.adapters import engine

        return engine.stack_exists(stack, self._located())

    def held(self, stack: str) -> list[StateResource]:
        from orchestrator.adapters import engine

        return engine.stack_resources(stack, self._located())

    def destroy(self, stack: str) -> dict[str, int]:
        from orchestrator.adapters import engine

        return engine.destroy_stack(stack, self._located()).changes

    def remove(self, stack: str, force: bool = False) -> None:
        from orchestrator.adapters import engine

        engine.remove_stack(stack, self._located(), force=force)


# --- what a run reports -------------------------------------------------------------------------


@dataclass
class Failure:
    """One thing that could not be deleted (or listed), with the cloud's answer."""

    environment: str
    kind: str
    id: str
    name: str
    error: str


@dataclass
class Step:
    """One step of one environment: ``empty``, ``destroy`` (or ``forget``), ``sweep``, ``clients``,
    ``project``, ``access``, ``stack``, ``verify``."""

    environment: str
    step: str
    status: str  #: done, skipped, failed, deferred (a later step takes it up), planned (dry run)
    detail: str = ""
    #: cloud and platform resources deleted (in a dry run: to be deleted), by kind: the one unit
    #: every count of a reclamation is in, whether the engine or the sweep deleted them
    deleted: dict[str, int] = field(default_factory=dict)
    #: destroy: the engine's own count (its resources: providers, components, passwords too)
    engine: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    foreign: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)  #: dry run: what would be deleted, in order

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("plan", "engine"):
            if not data[key]:
                data.pop(key)
        return data


@dataclass
class Summary:
    application: str
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    reclaimed: bool = False
    deadline: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    at: dt.datetime | None = None  #: when its steps are recorded; None: the reclaimer's clock, step by step

    @property
    def failures(self) -> list[Failure]:
        """What could not be deleted, once each, with the first error seen (not "still there")."""
        seen: dict[tuple[str, str, str], Failure] = {}
        for s in self.steps:
            for f in s.failures:
                seen.setdefault((f.environment, f.kind, f.id), f)
        return list(seen.values())

    @property
    def foreign(self) -> list[dict[str, Any]]:
        """Left for a person, once each (a client look-alike in a realm two environments share
        is listed once, under the first)."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for s in self.steps:
            for f in s.foreign:
                seen.setdefault((f["kind"], f["id"]), f)
        return list(seen.values())

    def counts(self) -> dict[str, int]:
        """Deleted (or, in a dry run, to be deleted) by kind over all environments."""
        total: dict[str, int] = {}
        for s in self.steps:
            for kind, n in s.deleted.items():
                total[kind] = total.get(kind, 0) + n
        return total

    def engine(self) -> dict[str, int]:
        """The engine's own counts of its destroys (a breakdown, not the unit of :meth:`counts`)."""
        total: dict[str, int] = {}
        for s in self.steps:
            for op, n in s.engine.items():
                total[op] = total.get(op, 0) + n
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"application": self.application, "dry_run": self.dry_run, "reclaimed": self.reclaimed,
                "counts": self.counts(), "engine": self.engine(), "failed": len(self.failures),
                "failures": [asdict(f) for f in self.failures], "foreign": self.foreign,
                "deadline": self.deadline, "note": self.note, "steps": [s.as_dict() for s in self.steps]}


class Reporter(Protocol):
    """Progress for people or pipelines; every method may be a no-op."""

    def wave(self, environment: str, kind: str, total: int) -> None: ...
    def item(self, environment: str, found: Found, error: str | None) -> None: ...
    def step(self, step: Step) -> None: ...


class QuietReporter:
    def wave(self, environment: str, kind: str, total: int) -> None: ...
    def item(self, environment: str, found: Found, error: str | None) -> None: ...
    def step(self, step: Step) -> None: ...


# --- the service --------------------------------------------------------------------------------


class Reclaimer:
    """One reclamation run of one application, by one provider actor."""

    def __init__(self, lifecycle: Any, leases: LeaseStore, cloud: CloudPort, stacks: Stacks, actor: lc.Actor, *,
                 platform: Platform | None = None, reporter: Reporter | None = None,
                 clock: Callable[[], dt.datetime] | None = None, lease_ttl: dt.timedelta = LEASE_TTL,
                 workers: int = WORKERS, holder: str | None = None,
                 provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP) -> None:
        from orchestrator.services.lifecycle import beijing_now

        self.lifecycle, self.leases, self.cloud, self.stacks, self.actor = lifecycle, leases, cloud, stacks, actor
        self.platform = platform or NoPlatform()
        self.reporter = reporter or QuietReporter()
        self.clock = clock or beijing_now
        self.lease_ttl, self.workers = lease_ttl, workers
        self.provider_ops_group = provider_ops_group
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
        if dry_run:
            for env in ENVIRONMENTS:
                self._plan(state, env, summary)
            return summary
        with self._leased(application):
            for env in ENVIRONMENTS:
                self._reclaim(state, env, summary)
            summary.deadline = self._deadline(state)
            if not summary.failures:
                self.lifecycle.record_reclaimed(application, self.actor, self._now(), payload={
                    "deadline": summary.deadline, "counts": summary.counts(), "foreign": summary.foreign})
                summary.reclaimed = True
        return summary

    def ready(self) -> None:
        """Raise :class:`~orchestrator.errors.ExternalError` (exit 3) when the engine is missing."""
        self.stacks.ready()

    def reclaim_environment(self, application: str, environment: str, at: dt.datetime) -> Summary:
        """Remove ``environment`` of a living application completely, by the steps :meth:`run`
        takes for each (Art. 13: an expired test environment), recorded as ``reclaim-step``
        events at ``at`` under the lease ``reclaim:<app>``. The application's state stays; the
        caller records what the removal means. ``reclaimed`` when nothing of ours is left.
        Raises (nothing touched) when the ledger would not take the steps or the lease is held."""
        state = self.lifecycle.state(application)
        lc.decide(state, "reclaim-step", self.actor, at, environment=environment)
        summary = Summary(application, False, at=at)
        with self._leased(application):
            self._reclaim(state, environment, summary)
        summary.reclaimed = not summary.failures
        return summary

    # --- gates and lease ---------------------------------------------------------------------

    def _gate(self, application: str) -> lc.AppState:
        if self.actor.role != lc.PROVIDER:
            raise RuleError(f"reclamation is for role provider, not {self.actor.role}", rule="role", article="Art. 16")
        events = self.lifecycle.history(application)
        state = lc.fold(events)
        if state.state not in (lc.TERMINATION_APPROVED, lc.RECLAIMED):
            raise RuleError(f"{application} is {state.state}: reclamation needs an approved termination",
                            rule="termination-approved", article="Art. 16")
        if not any(e.type == "backup-confirmed" and (e.reason or "").strip() for e in events):
            raise RuleError(f"{application}: no backup confirmation with evidence in the ledger",
                            rule="backup-evidence", article="Art. 16")
        return state

    @contextmanager
    def _leased(self, application: str) -> Iterator[None]:
        """Hold ``reclaim:<application>`` (renewed at each environment and step), then release it."""
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
            raise ConflictError(f"{lease} is held by {who} until {until.isoformat(timespec='seconds')} UTC: "
                                "another reclamation is running; retry after it ends or the lease expires")

    def _now(self) -> dt.datetime:
        return self.clock()

    # --- one environment ---------------------------------------------------------------------

    def _names(self, state: lc.AppState, env: str) -> tuple[str, str]:
        return (naming.stack_name(state.unit, state.application, env),
                naming.project_name(state.unit, state.application, env))

    def _plan(self, state: lc.AppState, env: str, summary: Summary) -> None:
        stack, project_name = self._names(state, env)
        has_stack = self.stacks.exists(stack)
        project = self.cloud.find_project(project_name)
        if not has_stack and project is None:
            step = clients_step(self.platform, env, state.unit, state.application, dry_run=True)
            if self._client_outlived(state, env, step):
                self._emit(summary, step)
            return
        if has_stack:
            self._emit(summary, Step(env, "destroy", "planned", f"pulumi destroy {stack}"
                                     + ("" if project is not None else "; or, if its state still holds resources "
                                        "of the gone project, verify them gone and forget them")))
        app, unit = state.application, state.unit
        if project is not None:
            decision = decide(self.cloud.sweep(project).inventory(), unit, app, is_ours(project, unit, app))
            first = before_destroy(decision).delete if has_stack else ()
            if first:
                self._emit(summary, Step(env, "empty", "planned", _EMPTY_DETAIL, deleted=dict(Counter(f.kind for f in first)),
                                         plan=[f.as_dict() for f in first]))
            later = [f for f in decision.delete if f not in first]  # each counted once, where the run deletes it
            self._emit(summary, Step(
                env, "sweep", "planned", f"project {project_name}", deleted=dict(Counter(f.kind for f in later)),
                foreign=_foreign(env, decision), plan=[f.as_dict() for f in later]))
        self._emit(summary, clients_step(self.platform, env, unit, app, dry_run=True))
        if project is not None:
            goes = is_ours(project, unit, app) and not decision.foreign
            self._emit(summary, Step(env, "project", "planned",
                                     _project_plan(project_name, is_ours(project, unit, app), decision),
                                     deleted={"project": 1} if goes else {}))
            access = access_step(self.cloud, env, project, unit, app, self.provider_ops_group, dry_run=True)
            if goes and access.deleted:  # Keystone drops them with the project: the real run counts none
                access.deleted, access.detail = {}, access.detail + "; they go with the project"
            self._emit(summary, access)
        if has_stack:
            self._emit(summary, Step(env, "stack", "planned", f"pulumi stack rm {stack}"))

    def _reclaim(self, state: lc.AppState, env: str, summary: Summary) -> None:
        """The one place an environment is removed: data and hand-made things the engine cannot
        delete, the stack, leftovers, clients, the project (only once the stack holds nothing),
        grants, the stack's state, and a verifying listing."""
        self._take(f"reclaim:{state.application}")  # renewed for each environment
        app, unit = state.application, state.unit
        stack, project_name = self._names(state, env)
        has_stack = self.stacks.exists(stack)
        project = found = self.cloud.find_project(project_name)
        if not has_stack and project is None:
            step = self._clients(env, unit, app)
            if self._client_outlived(state, env, step):
                self._record(summary, step)
            return
        own = project is not None and is_ours(project, unit, app)
        sweep = self.cloud.sweep(project) if project is not None else None
        destroyed, clients_done = True, False
        if has_stack:
            held = self._held(env, stack) if sweep is None else None
            if sweep is not None:
                self._record(summary, self._empty(env, project_name, sweep, unit, app, own))
                step = self._destroy(env, stack, unit, app)
            elif isinstance(held, Step):
                step = held
            elif held:  # the project went first (an older govcloud, or by hand): nothing can destroy
                self._record(summary, self._clients(env, unit, app))
                clients_done = True
                step = self._forget(env, stack, held, unit, app)
            else:  # an empty state needs no provider: destroy says so, or why not
                step = self._destroy(env, stack, unit, app)
            destroyed = step.status == "done"
            if not destroyed and sweep is not None:  # the sweep may remove what blocked it; then again
                step = _deferred(step, "destroyed again after the sweep")
            self._record(summary, step)
            if project is not None:  # stacks keep their project on destroy; one made otherwise may not
                project = self.cloud.find_project(project_name)
                sweep = self.cloud.sweep(project) if project is not None else None
        if project is not None and sweep is not None:
            self._record(summary, self._sweep(env, project_name, sweep, unit, app, own))
            if not destroyed:  # what made the destroy fail may be gone now
                step = self._destroy(env, stack, unit, app, again=True)
                destroyed = step.status == "done"
                self._record(summary, step)
        if not clients_done:
            self._record(summary, self._clients(env, unit, app))
        if project is not None and sweep is not None:
            if destroyed:
                self._record(summary, self._project(env, project, sweep, unit, app))
            else:  # deleting it would leave the stack's provider scoped to nothing: no re-run could destroy
                self._record(summary, Step(env, "project", "skipped", f"kept project {project_name}: stack {stack} "
                                           "still holds resources; a re-run destroys them, then deletes it"))
        if found is not None:  # gone or not: its assignments are verified by the id it had
            self._record(summary, access_step(self.cloud, env, found, unit, app, self.provider_ops_group))
        if has_stack:
            if destroyed:
                step = self._guard(Step(env, "stack", "done", f"pulumi stack rm {stack}"),
                                   lambda s: self.stacks.remove(stack))
            else:
                step = Step(env, "stack", "skipped", f"kept {stack}: its destroy failed, its state still counts")
            self._record(summary, step)
        self._record(summary, self._verify(env, stack, project_name, unit, app))

    def _empty(self, env: str, project_name: str, sweep: Sweep, unit: str, app: str, own: bool) -> Step:
        """Before the destroy: what the engine cannot delete (data, things made by hand). What
        cannot go yet (a security group made by hand on the stack's server) waits for the sweep
        after the destroy, which reports it if it stays; so it is not a failure here."""
        step = sweep_project(sweep, env, project_name, unit, app, self.reporter, self.workers,
                             own_project=own, select=before_destroy)
        step.step, step.foreign, step.detail = "empty", [], f"project {project_name}: {_EMPTY_DETAIL}"
        return _deferred(step, "left for the sweep after the destroy")

    def _destroy(self, env: str, stack: str, unit: str, app: str, again: bool = False) -> Step:
        """``pulumi destroy``; ``deleted`` counts, in the unit the dry run counts, the cloud's and the
        platform's resources of ours it removed (listed before and after), ``engine`` the engine's
        own count (its resources include providers, components and passwords)."""
        detail = f"pulumi destroy {stack}" + (" again, after the sweep" if again else "")
        before = self._present(unit, app, env)
        step = self._guard(Step(env, "destroy", "done", detail), lambda s: s.engine.update(self.stacks.destroy(stack)))
        after = self._present(unit, app, env)
        step.deleted = dict(Counter(kind for kind, id_ in before - after)) if before and after is not None else {}
        return step

    def _present(self, unit: str, app: str, env: str) -> set[tuple[str, str]] | None:
        """Ours in the environment's project and the platform, as (kind, id); None when either
        cannot be listed (then the destroy's count stays unknown, the sweep still reports)."""
        project_name = naming.project_name(unit, app, env)
        try:
            project = self.cloud.find_project(project_name)
            found = set() if project is None else {
                (f.kind, f.id) for f in decide(self.cloud.sweep(project).inventory(), unit, app,
                                               is_ours(project, unit, app)).delete}
            return found | {(f.kind, f.id) for f in self.platform.clients(unit, app, env).delete}
        except GovcloudError:
            return None

    def _held(self, env: str, stack: str) -> list[StateResource] | Step:
        """What the stack's state holds, or the failed step that says why it is not known."""
        try:
            return self.stacks.held(stack)
        except GovcloudError as exc:
            return _failed(Step(env, "destroy", "failed", f"pulumi stack export {stack}"),
                           Failure(env, "stack", stack, stack, str(exc)))

    def _forget(self, env: str, stack: str, held: list[StateResource], unit: str, app: str) -> Step:
        """The stack's project is gone but its state still holds resources, so ``pulumi destroy``
        cannot authenticate: verify each resource gone (looked up by id with admin rights, the
        platform's clients listed), then remove the stack with its state. Anything still there, or
        that cannot be verified, fails the step and keeps the state."""
        step = Step(env, "forget", "done", f"project gone: verified the resources of {stack} gone, removed its state")
        project_id = next((r.id for r in held if r.type == "openstack:identity/project:Project"), "")
        platform_left: bool | None = None
        for r in held:
            check, error = state_check(r.type), None
            try:
                if check == "cloud":
                    if self.cloud.exists(STATE_KINDS[r.type], r.id, project_id):
                        error = "still in the cloud although its project is gone"
                elif check == "platform":
                    if platform_left is None:
                        platform_left = bool(self.platform.clients(unit, app, env).delete)
                    if platform_left:
                        error = "its client is still in the unified-authentication platform"
                elif check == "unknown":
                    error = f"govcloud cannot verify that a {r.type} is gone"
            except GovcloudError as exc:
                error = f"cannot verify it is gone: {exc}"
            if error:
                step.failures.append(Failure(env, "state", r.urn, r.type, error))
        if step.failures:
            step.status = "failed"
            step.detail = f"kept {stack}: {len(step.failures)} of its {len(held)} resources not verified gone"
            return step
        try:
            self.stacks.remove(stack, force=True)
            step.deleted = {"forgotten": len(held)}
        except GovcloudError as exc:
            _failed(step, Failure(env, "stack", stack, stack, str(exc)))
        return step

    def _sweep(self, env: str, project_name: str, sweep: Sweep, unit: str, app: str, own: bool) -> Step:
        return sweep_project(sweep, env, project_name, unit, app, self.reporter, self.workers, own_project=own)

    def _delete_all(self, sweep: Sweep, batch: list[Found]) -> list[tuple[Found, str | None]]:
        return delete_all(sweep, batch, self.workers)

    def _clients(self, env: str, unit: str, app: str) -> Step:
        return clients_step(self.platform, env, unit, app)

    def _client_outlived(self, state: lc.AppState, env: str, step: Step) -> bool:
        """Whether the clients step of an environment with neither stack nor project counts: it
        was approved once (a client may outlive the rest), or the platform found something there,
        or could not be asked. Without a platform, only approved environments are unverifiable."""
        if env in state.approved or step.deleted or step.foreign:
            return True
        return bool(step.failures) and not isinstance(self.platform, NoPlatform)

    def _project(self, env: str, project: Found, sweep: Sweep, unit: str, app: str) -> Step:
        step = Step(env, "project", "done", f"project {project.name}")
        try:
            left = decide(sweep.inventory(), unit, app, is_ours(project, unit, app))
        except GovcloudError as exc:
            return _failed(step, Failure(env, "inventory", project.id, project.name, str(exc)))
        step.foreign = _foreign(env, left)
        if not is_ours(project, unit, app):
            step.status, step.detail = "skipped", f"kept project {project.name}: not tagged for {unit}/{app}"
            step.foreign.append({"environment": env, **project.as_dict()})
        elif left.delete:
            step.status, step.detail = "skipped", f"kept project {project.name}: {len(left.delete)} of ours remain"
        elif left.foreign:
            step.status, step.detail = "skipped", f"kept project {project.name}: {len(left.foreign)} foreign remain"
        else:
            for found in left.builtin:  # the default security group, which Neutron keeps otherwise
                error = self._delete_all(sweep, [found])[0][1]
                if error:
                    step.failures.append(Failure(env, found.kind, found.id, found.name, error))
            if not step.failures:
                try:
                    self.cloud.delete_project(project)
                    step.deleted = {"project": 1}
                except GovcloudError as exc:
                    step.failures.append(Failure(env, "project", project.id, project.name, str(exc)))
            step.status = "failed" if step.failures else "done"
        return step

    def _verify(self, env: str, stack: str, project_name: str, unit: str, app: str) -> Step:
        """List again: anything ours left in the project, or the stack still there, is a failure."""
        step = Step(env, "verify", "done", "nothing of ours remains")
        try:
            project = self.cloud.find_project(project_name)
            if project is not None:
                left = decide(self.cloud.sweep(project).inventory(), unit, app, is_ours(project, unit, app))
                step.foreign = _foreign(env, left)
                step.failures = [Failure(env, f.kind, f.id, f.name, "still there after the sweep") for f in left.delete]
                if not step.failures:
                    step.detail = f"nothing of ours remains; project {project_name} kept"
            if self.stacks.exists(stack):
                step.failures.append(Failure(env, "stack", stack, stack, "stack state still there"))
        except GovcloudError as exc:
            step.failures.append(Failure(env, "inventory", project_name, project_name, str(exc)))
        if step.failures:
            step.status, step.detail = "failed", f"{len(step.failures)} remain"
        return step

    # --- recording ---------------------------------------------------------------------------

    def _guard(self, step: Step, action: Callable[[Step], None]) -> Step:
        """Run ``action(step)``; a govcloud error fails the step, the run goes on."""
        try:
            action(step)
        except GovcloudError as exc:
            _failed(step, Failure(step.environment, step.step, "", "", str(exc)))
        return step

    def _emit(self, summary: Summary, step: Step) -> None:
        summary.steps.append(step)
        self.reporter.step(step)

    def _record(self, summary: Summary, step: Step) -> None:
        """Append the step to the ledger (renewing the lease), then report it."""
        self._take(f"reclaim:{summary.application}")
        payload = {k: v for k, v in step.as_dict().items() if k not in ("environment",)}
        self.lifecycle.record_reclaim_step(summary.application, self.actor, summary.at or self._now(),
                                           step.environment, payload)
        self._emit(summary, step)

    def _deadline(self, state: lc.AppState) -> dict[str, Any]:
        """The reclamation clock (3 working days after approval) judged now: due date, met or not."""
        if "reclamation" not in state.clocks:
            return {}
        due, provisional = lc.due_date(state, "reclamation", self.lifecycle.calendar)
        started, ended = state.clocks["reclamation"]
        done = dt.datetime.fromisoformat(ended).date() if ended else self._now().date()
        return {"name": "reclamation", "article": "Art. 16", "started": started, "due": due.isoformat(),
                "provisional": provisional, "at": (ended or self._now().isoformat()), "met": done <= due,
                "working_days": self.lifecycle.calendar.working_days_between(
                    dt.datetime.fromisoformat(started).date(), done)}


def sweep_project(sweep: Sweep, env: str, project_name: str, unit: str, app: str,
                  reporter: Reporter | None = None, workers: int = WORKERS, *, own_project: bool = False,
                  select: Callable[[Decision], Decision] | None = None) -> Step:
    """List the project, decide (``select`` narrows what is deleted), delete ours kind by kind
    (parallel within a kind): one step."""
    reporter = reporter or QuietReporter()
    step = Step(env, "sweep", "done", f"project {project_name}")
    try:
        decision = decide(sweep.inventory(), unit, app, own_project)
    except GovcloudError as exc:
        return _failed(step, Failure(env, "inventory", project_name, project_name, str(exc)))
    step.foreign = _foreign(env, decision)
    if select is not None:
        decision = select(decision)
    for kind, batch in decision.waves():
        reporter.wave(env, kind, len(batch))
        for found, error in delete_all(sweep, batch, workers):
            reporter.item(env, found, error)
            if error is None:
                step.deleted[kind] = step.deleted.get(kind, 0) + 1
            else:
                step.failures.append(Failure(env, found.kind, found.id, found.name, error))
    step.status = "failed" if step.failures else "done"
    return step


def clients_step(platform: Platform, env: str, unit: str, app: str, dry_run: bool = False) -> Step:
    """The environment's clients in the platform: decide, delete ours, list again (one step).

    A client still listed after its deletion, a failed deletion or a platform that cannot be
    asked (none configured, unreachable) fails the step: nothing is taken for gone unseen."""
    step = Step(env, "clients", "planned" if dry_run else "done", f"unified-auth clients ({platform.where})")
    try:
        decision = platform.clients(unit, app, env)
    except GovcloudError as exc:
        return _failed(step, Failure(env, "auth_client", "", "", str(exc)))
    step.foreign = _foreign(env, decision)
    if dry_run:
        step.deleted, step.plan = decision.counts(), [f.as_dict() for f in decision.delete]
        return step
    for found in decision.delete:
        try:
            platform.delete_client(found)
            step.deleted["auth_client"] = step.deleted.get("auth_client", 0) + 1
        except GovcloudError as exc:
            step.failures.append(Failure(env, found.kind, found.id, found.name, str(exc)))
    try:
        left = platform.clients(unit, app, env).delete
    except GovcloudError as exc:
        left = ()
        step.failures.append(Failure(env, "auth_client", "", "", f"listing again: {exc}"))
    step.failures += [Failure(env, f.kind, f.id, f.name, "still there after its deletion") for f in left]
    if step.failures:
        step.status = "failed"
    step.detail += f": removed {', '.join(f.name for f in decision.delete if f not in left) or 'none'}"
    return step


def access_step(cloud: CloudPort, env: str, project: Found, unit: str, app: str,
                provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP, dry_run: bool = False) -> Step:
    """The role assignments on the environment's project: decide, remove, list again (one step).

    On a project that is gone (deleted by this run or by ``pulumi destroy``) Keystone has dropped
    its assignments: the listing verifies it and removes any left. On a project that stays (a
    foreign resource in it, a failed deletion) the application's group grants are removed; the
    reclaiming user's own role stays with the project (a re-run needs it to sweep), and anyone
    else's is foreign. A project not tagged for the application is foreign as a whole."""
    step = Step(env, "access", "planned" if dry_run else "done", f"role assignments on project {project.name}")
    try:
        current = cloud.find_project(project.name)
        found = cloud.role_assignments(project.id)
    except GovcloudError as exc:
        return _failed(step, Failure(env, "role_assignment", project.id, project.name, str(exc)))
    gone = current is None or current.id != project.id
    if not gone and not is_ours(project, unit, app):
        step.status, step.detail = "skipped", f"kept project {project.name}: not tagged for {unit}/{app}"
        step.foreign = [{"environment": env, **a.as_dict()} for a in found]
        return step
    decision = decide_assignments(found, unit, provider_ops_group, cloud.user_id)
    remove = tuple(found) if gone else decision.delete
    if not gone:
        step.foreign = [{"environment": env, **a.as_dict()} for a in decision.foreign]
        if decision.own:  # like the project itself and its default security group
            step.detail += f"; kept {', '.join(a.name for a in decision.own)}, ours, with the project"
    if dry_run:
        step.deleted = {"role_assignment": len(remove)} if remove else {}
        step.plan = [a.as_dict() for a in remove]
        return step
    for a in remove:
        try:
            cloud.delete_role_assignment(a)
        except GovcloudError as exc:
            step.failures.append(Failure(env, a.kind, a.id, a.name, str(exc)))
    try:
        left = {a.id for a in cloud.role_assignments(project.id)}
    except GovcloudError as exc:
        return _failed(step, Failure(env, "role_assignment", project.id, project.name, f"listing again: {exc}"))
    step.failures += [Failure(env, a.kind, a.id, a.name, "still there after its removal")
                      for a in remove if a.id in left]
    done = len([a for a in remove if a.id not in left])
    step.deleted = {"role_assignment": done} if done else {}
    if step.failures:
        step.status = "failed"
    elif gone and not remove:
        step.detail += ": none left, Keystone removed them with the project"
    return step


def delete_all(sweep: Sweep, batch: list[Found], workers: int = WORKERS) -> list[tuple[Found, str | None]]:
    """Delete one wave (one kind), ``workers`` at a time; each failure caught, kept and counted."""
    def one(found: Found) -> tuple[Found, str | None]:
        try:
            sweep.delete(found)
            return found, None
        except GovcloudError as exc:
            return found, str(exc)

    if len(batch) == 1 or workers <= 1:
        return [one(f) for f in batch]
    with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
        return list(pool.map(one, batch))


def _foreign(env: str, decision: Decision) -> list[dict[str, Any]]:
    return [{"environment": env, **f.as_dict()} for f in decision.foreign]


def _deferred(step: Step, until: str) -> Step:
    """A step whose failures a later step of the run takes up: not failed, its errors told."""
    if step.failures:
        first = step.failures[0]
        step.detail += (f"; {len(step.failures)} {until} (first: {first.kind} {first.id}: {first.error})"
                        if first.id else f"; {until}: {first.error}")
        step.status, step.failures = "deferred", []
    return step


def _failed(step: Step, failure: Failure) -> Step:
    step.status = "failed"
    step.failures.append(failure)
    return step


_EMPTY_DETAIL = "data and things made by hand, which the engine cannot delete"


def _project_plan(name: str, ours: bool, decision: Decision) -> str:
    if not ours:
        return f"keep project {name}: not tagged for this application"
    if decision.foreign:
        return f"keep project {name}: {len(decision.foreign)} foreign resources in it"
    return f"delete project {name}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class LazyCloud:
    """The cloud, connected on first use: the ledger's gates speak before the cloud is asked."""

    def __init__(self, name: str | None) -> None:
        self._name, self._cloud = name, None

    def __getattr__(self, attr: str) -> Any:
        from orchestrator.adapters.cloud import Cloud

        if self._cloud is None:
            self._cloud = Cloud.connect(self._name)
        return getattr(self._cloud, attr)


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


def open_reclaimer(actor: lc.Actor, cloud_name: str | None, reporter: Reporter | None = None,
                   platform: Platform | None = None) -> Reclaimer:
    """The service over the configured ledger, cloud, engine and platform (for the CLI); each
    connects on first use."""
    from orchestrator.adapters.ledger import Ledger
    from orchestrator.services.lifecycle import Lifecycle
    from orchestrator.services.provision import AUTH_VARIABLES

    platform = platform or open_platform()
    ops_group = os.environ.get(AUTH_VARIABLES["govcloud:providerOpsGroup"]) or DEFAULT_PROVIDER_OPS_GROUP
    ledger = Ledger.open()
    return Reclaimer(Lifecycle(ledger), ledger, LazyCloud(cloud_name), PulumiStacks(), actor,
                     platform=platform, reporter=reporter, provider_ops_group=ops_group)

