"""What a manifest change does to the data of each environment, by what the engine will do.

Both manifests are planned offline (the real program under the mock runtime); the plans are
compared as the engine compares them (:func:`orchestrator.core.dataloss.data_changes`). The
classification of Art. 15 (:func:`classify_applications`) adds each data-destroying step to the
manifest's own changes as a major change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core import naming
from orchestrator.core.changes import Change, classify
from orchestrator.core.dataloss import DataChanges, data_changes
from orchestrator.core.manifest import Application, Environment

if TYPE_CHECKING:
    from orchestrator.services.plan import StackPlan


def stateless_instances(app: Application, env: Environment) -> frozenset[str]:
    """The instance names of ``env``'s ``stateless`` servers."""
    return frozenset(name for server in app.environments[env].resources.servers if server.stateless
                     for name in naming.instance_names(app.id, server))


def disposable(old: Application, new: Application, env: Environment) -> frozenset[str]:
    """Instances whose root disk may go without an approval: ``stateless`` in the running
    manifest and not declared stateful by the new one (declaring a server stateless takes
    effect once that change is applied, never for the change that declares it)."""
    stateful = {name for server in new.environments[env].resources.servers if not server.stateless
                for name in naming.instance_names(new.id, server)} if env in new.environments else set()
    return stateless_instances(old, env) - stateful


def stack_data_changes(old: Application, new: Application, env: Environment,
                       old_plan: StackPlan | None = None, new_plan: StackPlan | None = None) -> DataChanges:
    """The data steps of changing ``env`` from ``old`` to ``new`` (plans made unless given)."""
    from orchestrator.services.plan import plan_application

    if env not in old.environments or env not in new.environments:
        return DataChanges()
    before = old_plan or plan_application(old, env)
    after = new_plan or plan_application(new, env)
    return data_changes(before.resources, after.resources, disposable(old, new, env), old.digest, new.digest)


def data_changes_by_environment(old: Application, new: Application) -> dict[str, DataChanges]:
    """:func:`stack_data_changes` of every environment both manifests declare."""
    return {str(env): stack_data_changes(old, new, env) for env in new.environments if env in old.environments}


def as_changes(env: str, changes: DataChanges) -> list[Change]:
    """Each data step as a major change of Art. 15, with its reason."""
    return [Change("major", f"environments.{env}.resources.{step.name}", str(step)) for step in changes.steps]


def classify_applications(old: Application, new: Application) -> list[Change]:
    """The manifest's changes (:func:`orchestrator.core.changes.classify`) and, for each
    environment, every step that destroys data (major, Art. 15)."""
    changes = classify(old, new)
    if not changes:
        return changes
    for env, data in data_changes_by_environment(old, new).items():
        changes += as_changes(env, data)
    return changes
