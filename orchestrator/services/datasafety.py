"""What a manifest change does to the data of each environment, by what the engine will do.

Both manifests are planned offline (the real program under the mock runtime); the plans are
compared as the engine compares them (:func:`orchestrator.core.dataloss.data_changes`). The
classification of Art. 15 (:func:`classify_applications`) adds each data-destroying step to the
manifest's own changes as a major change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.core import lifecycle as lc
from orchestrator.core import naming
from orchestrator.core.changes import Change, classify
from orchestrator.core.dataloss import DataChanges, DataStep, data_changes
from orchestrator.core.manifest import Application, Environment
from orchestrator.errors import RuleError

if TYPE_CHECKING:
    from orchestrator.core.stackplan import StackPlan


def stateless_instances(app: Application, env: Environment) -> frozenset[str]:
    """The instance names of ``env``'s ``stateless`` servers."""
    return frozenset(
        name
        for server in app.environments[env].resources.servers
        if server.stateless
        for name in naming.instance_names(app.id, server)
    )


def disposable(old: Application, new: Application, env: Environment) -> frozenset[str]:
    """Instances whose root disk may go without an approval: ``stateless`` in the running
    manifest and not declared stateful by the new one (declaring a server stateless takes
    effect once that change is applied, never for the change that declares it)."""
    stateful = (
        {
            name
            for server in new.environments[env].resources.servers
            if not server.stateless
            for name in naming.instance_names(new.id, server)
        }
        if env in new.environments
        else set()
    )
    return stateless_instances(old, env) - stateful


def stack_data_changes(
    old: Application,
    new: Application,
    env: Environment,
    old_plan: StackPlan | None = None,
    new_plan: StackPlan | None = None,
) -> DataChanges:
    """The data steps of changing ``env`` from ``old`` to ``new`` (plans made unless given)."""
    from orchestrator.services.plan import plan_application

    if env not in old.environments or env not in new.environments:
        return DataChanges()
    before = old_plan or plan_application(old, env)
    after = new_plan or plan_application(new, env)
    return data_changes(before.resources, after.resources, disposable(old, new, env), old.digest, new.digest)


def as_changes(env: str, changes: DataChanges) -> list[Change]:
    """Each data step as a major change of Art. 15, with its reason."""
    return [Change("major", f"environments.{env}.resources.{step.name}", str(step)) for step in changes.steps]


def classify_applications(
    old: Application, new: Application, running: Mapping[str, Application] | None = None
) -> list[Change]:
    """The manifest's changes (:func:`orchestrator.core.changes.classify`) and, for each
    environment, every step that destroys data (major, Art. 15): from ``running[env]`` (the
    manifest the live environment runs, which differs from ``old`` after a failed up) when
    given, else from ``old``."""
    changes = classify(old, new)
    if not changes:
        return changes
    for env in new.environments:
        base = running.get(str(env)) if running is not None else old
        if base is not None:
            changes += as_changes(str(env), stack_data_changes(base, new, env))
    return changes


@dataclass(frozen=True)
class DataGuard:
    """What ``up`` may do to the data of one environment: checked before the engine starts."""

    live: bool = False
    """The environment runs already (only then can an up destroy anything)."""
    changes: DataChanges = field(default_factory=DataChanges)
    release: frozenset[str] = frozenset()
    """The resources this run may destroy: each needed one, approved in the ledger."""
    disposable: frozenset[str] = frozenset()
    retry: bool = False
    """The last up of the environment failed: this one refreshes the state first."""


def guard(
    state: lc.AppState,
    manifest_at: Callable[[str, str], Application | None],
    app: Application,
    env: Environment,
    plan: StackPlan,
) -> DataGuard:
    """Compare the plan of the manifest the environment runs (``manifest_at(application, digest)``,
    from the ledger whose ``state`` of the application this is) with ``plan`` (the new one) and
    refuse, before the engine starts, a change no path can make (shrinking) or a data loss the
    ledger has not approved for this digest and these resources (:class:`RuleError`, Art. 15)."""
    retry = str(env) in state.failed
    running = state.provisioned.get(str(env))
    old = manifest_at(app.id, running) if running else None
    if old is None:
        return DataGuard(live=running is not None, retry=retry)
    changes = stack_data_changes(old, app, env, new_plan=plan)
    if changes.refused:
        raise RuleError(
            f"{plan.stack}: the change cannot be applied without destroying data: "
            + "; ".join(str(s) for s in changes.refused)
            + "; nothing was changed. Keep the size, "
            "or move the data to a new resource and remove the old one",
            rule="data-path",
            article="Art. 15",
        )
    needed = changes.names
    missing = sorted(needed - lc.approved_data_loss(state, str(env), app.digest))
    if missing:
        steps = "; ".join(str(s) for s in changes.destroying if s.name in missing)
        flags = " ".join(f"--resource {n}" for n in missing)
        raise RuleError(
            f"{plan.stack}: up would destroy data without an approval: {steps}; nothing was changed. The unit "
            f"confirms with its backup: govcloud app confirm-data-loss {app.id} --env {env} {flags} --backup BACKUP; "
            f"then the e-gov office approves: govcloud app approve-data-loss {app.id} --env {env}",
            rule="data-loss-approved",
            article="Art. 15",
        )
    return DataGuard(True, changes, needed, disposable(old, app, env), retry)


def refuse_unseen(stack: str, steps: list[DataStep]) -> RuleError:
    """The refusal of data steps only a real preview showed."""
    return RuleError(
        f"{stack}: the engine's preview would destroy data the plan did not show: "
        + "; ".join(str(s) for s in steps)
        + "; nothing was changed (refresh the stack, "
        "or get this loss confirmed and approved)",
        rule="data-loss-approved",
        article="Art. 15",
    )
