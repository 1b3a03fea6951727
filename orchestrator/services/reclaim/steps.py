"""The steps of removing one environment, each one :class:`~orchestrator.core.reclaim.Step`:
decide from what is listed, delete, and say what went, what stayed and why.

Every deletion goes through the ports (:mod:`orchestrator.services.reclaim.ports`), so the same
steps make the real run and, over the :class:`~orchestrator.services.reclaim.dryrun.DryRun`
view, the dry run. A failure is caught, kept in the step and counted; the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.core import naming
from orchestrator.core.access import DEFAULT_PROVIDER_OPS_GROUP, decide_assignments
from orchestrator.core.reclaim import (
    STATE_KINDS,
    Decision,
    Failure,
    Found,
    Step,
    before_destroy,
    decide,
    is_ours,
    state_check,
)
from orchestrator.errors import GovcloudError
from orchestrator.services.reclaim.ports import CloudPort, Platform, QuietReporter, Reporter, Stacks, Sweep

if TYPE_CHECKING:
    from orchestrator.adapters.engine import StateResource

WORKERS = 16  #: deletions of one kind at once (mostly waiting: servers, volumes)
EMPTY_DETAIL = "data and things made by hand, which the engine cannot delete"


@dataclass(frozen=True)
class Systems:
    """The outside systems one run acts on (the real ones, or their dry-run view)."""

    cloud: CloudPort
    stacks: Stacks
    platform: Platform
    reporter: Reporter = field(default_factory=QuietReporter)
    workers: int = WORKERS
    provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP


def empty(on: Systems, env: str, project_name: str, sweep: Sweep, unit: str, app: str, own: bool) -> Step:
    """Before the destroy: what the engine cannot delete (data, things made by hand). What
    cannot go yet (a security group made by hand on the stack's server) waits for the sweep
    after the destroy, which reports it if it stays; so it is not a failure here."""
    step = sweep_project(
        sweep, env, project_name, unit, app, on.reporter, on.workers, own_project=own, select=before_destroy
    )
    step.step, step.foreign, step.detail = "empty", [], f"project {project_name}: {EMPTY_DETAIL}"
    return deferred(step, "left for the sweep after the destroy")


def destroy(on: Systems, env: str, stack: str, unit: str, app: str, again: bool = False) -> Step:
    """``pulumi destroy``; ``deleted`` counts, in the unit every step counts in, the cloud's and the
    platform's resources of ours it removed (listed before and after), ``engine`` the engine's
    own count (its resources include providers, components and passwords)."""
    detail = f"pulumi destroy {stack}" + (" again, after the sweep" if again else "")
    before = _present(on, unit, app, env)
    step = guard(Step(env, "destroy", "done", detail), lambda s: s.engine.update(on.stacks.destroy(stack)))
    after = _present(on, unit, app, env)
    step.deleted = dict(Counter(kind for kind, id_ in before - after)) if before and after is not None else {}
    return step


def _present(on: Systems, unit: str, app: str, env: str) -> set[tuple[str, str]] | None:
    """Ours in the environment's project and the platform, as (kind, id); None when either
    cannot be listed (then the destroy's count stays unknown, the sweep still reports)."""
    try:
        project = on.cloud.find_project(naming.project_name(unit, app, env))
        found = (
            set()
            if project is None
            else {
                (f.kind, f.id)
                for f in decide(on.cloud.sweep(project).inventory(), unit, app, is_ours(project, unit, app)).delete
            }
        )
        return found | {(f.kind, f.id) for f in on.platform.clients(unit, app, env).delete}
    except GovcloudError:
        return None


def held(on: Systems, env: str, stack: str) -> list[StateResource] | Step:
    """What the stack's state holds, or the failed step that says why it is not known."""
    try:
        return on.stacks.held(stack)
    except GovcloudError as exc:
        return Step(env, "destroy", "failed", f"pulumi stack export {stack}").fail(
            Failure(env, "stack", stack, stack, str(exc))
        )


def forget(on: Systems, env: str, stack: str, resources: list[StateResource], unit: str, app: str) -> Step:
    """The stack's project is gone but its state still holds resources, so ``pulumi destroy``
    cannot authenticate: verify each resource gone (looked up by id with admin rights, the
    platform's clients listed), then remove the stack with its state. Anything still there, or
    that cannot be verified, fails the step and keeps the state."""
    step = Step(env, "forget", "done", f"project gone: verified the resources of {stack} gone, removed its state")
    project_id = next((r.id for r in resources if r.type == "openstack:identity/project:Project"), "")
    platform_left: bool | None = None
    for r in resources:
        check, error = state_check(r.type), None
        try:
            if check == "cloud":
                if on.cloud.exists(STATE_KINDS[r.type], r.id, project_id):
                    error = "still in the cloud although its project is gone"
            elif check == "platform":
                if platform_left is None:
                    platform_left = bool(on.platform.clients(unit, app, env).delete)
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
        step.detail = f"kept {stack}: {len(step.failures)} of its {len(resources)} resources not verified gone"
        return step
    try:
        on.stacks.remove(stack, force=True)
        step.deleted = {"forgotten": len(resources)}
    except GovcloudError as exc:
        step.fail(Failure(env, "stack", stack, stack, str(exc)))
    return step


def sweep_project(
    sweep: Sweep,
    env: str,
    project_name: str,
    unit: str,
    app: str,
    reporter: Reporter | None = None,
    workers: int = WORKERS,
    *,
    own_project: bool = False,
    select: Callable[[Decision], Decision] | None = None,
) -> Step:
    """List the project, decide (``select`` narrows what is deleted), delete ours kind by kind
    (parallel within a kind): one step."""
    reporter = reporter or QuietReporter()
    step = Step(env, "sweep", "done", f"project {project_name}")
    try:
        decision = decide(sweep.inventory(), unit, app, own_project)
    except GovcloudError as exc:
        return step.fail(Failure(env, "inventory", project_name, project_name, str(exc)))
    step.foreign = foreign(env, decision)
    if select is not None:
        decision = select(decision)
    for kind, batch in decision.waves():
        reporter.wave(env, kind, len(batch))
        for found, error in delete_all(sweep, batch, workers):
            reporter.item(env, found, error)
            if error is None:
                step.count(kind)
            else:
                step.failures.append(Failure(env, found.kind, found.id, found.name, error))
    step.status = "failed" if step.failures else "done"
    return step


def clients_step(platform: Platform, env: str, unit: str, app: str) -> Step:
    """The environment's clients in the platform: decide, delete ours, list again (one step).

    A client still listed after its deletion, a failed deletion or a platform that cannot be
    asked (none configured, unreachable) fails the step: nothing is taken for gone unseen."""
    step = Step(env, "clients", "done", f"unified-auth clients ({platform.where})")
    try:
        decision = platform.clients(unit, app, env)
    except GovcloudError as exc:
        return step.fail(Failure(env, "auth_client", "", "", str(exc)))
    step.foreign = foreign(env, decision)
    for found in decision.delete:
        try:
            platform.delete_client(found)
            step.count("auth_client")
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


def project_step(on: Systems, env: str, project: Found, sweep: Sweep, unit: str, app: str) -> Step:
    """The project itself, only when it is ours and holds nothing but what the cloud made for it
    (its default security group, deleted first)."""
    step = Step(env, "project", "done", f"project {project.name}")
    try:
        left = decide(sweep.inventory(), unit, app, is_ours(project, unit, app))
    except GovcloudError as exc:
        return step.fail(Failure(env, "inventory", project.id, project.name, str(exc)))
    step.foreign = foreign(env, left)
    if not is_ours(project, unit, app):
        step.status, step.detail = "skipped", f"kept project {project.name}: not tagged for {unit}/{app}"
        step.foreign.append({"environment": env, **project.as_dict()})
    elif left.delete:
        step.status, step.detail = "skipped", f"kept project {project.name}: {len(left.delete)} of ours remain"
    elif left.foreign:
        step.status, step.detail = "skipped", f"kept project {project.name}: {len(left.foreign)} foreign remain"
    else:
        for found, error in delete_all(sweep, list(left.builtin), on.workers):  # Neutron keeps its default group
            if error:
                step.failures.append(Failure(env, found.kind, found.id, found.name, error))
        if not step.failures:
            try:
                on.cloud.delete_project(project)
                step.deleted = {"project": 1}
            except GovcloudError as exc:
                step.failures.append(Failure(env, "project", project.id, project.name, str(exc)))
        step.status = "failed" if step.failures else "done"
    return step


def access_step(
    cloud: CloudPort,
    env: str,
    project: Found,
    unit: str,
    app: str,
    provider_ops_group: str = DEFAULT_PROVIDER_OPS_GROUP,
) -> Step:
    """The role assignments on the environment's project: decide, remove, list again (one step).

    On a project that is gone (deleted by this run or by ``pulumi destroy``) Keystone has dropped
    its assignments: the listing verifies it and removes any left. On a project that stays (a
    foreign resource in it, a failed deletion) the application's group grants are removed; the
    reclaiming user's own role stays with the project (a re-run needs it to sweep), and anyone
    else's is foreign. A project not tagged for the application is foreign as a whole."""
    step = Step(env, "access", "done", f"role assignments on project {project.name}")
    try:
        current = cloud.find_project(project.name)
        found = cloud.role_assignments(project.id)
    except GovcloudError as exc:
        return step.fail(Failure(env, "role_assignment", project.id, project.name, str(exc)))
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
    for a in remove:
        try:
            cloud.delete_role_assignment(a)
        except GovcloudError as exc:
            step.failures.append(Failure(env, a.kind, a.id, a.name, str(exc)))
    try:
        left = {a.id for a in cloud.role_assignments(project.id)}
    except GovcloudError as exc:
        return step.fail(Failure(env, "role_assignment", project.id, project.name, f"listing again: {exc}"))
    step.failures += [
        Failure(env, a.kind, a.id, a.name, "still there after its removal") for a in remove if a.id in left
    ]
    done = len([a for a in remove if a.id not in left])
    step.deleted = {"role_assignment": done} if done else {}
    if step.failures:
        step.status = "failed"
    elif gone and not remove:
        step.detail += ": none left, Keystone removed them with the project"
    return step


def stack_step(on: Systems, env: str, stack: str, destroyed: bool) -> Step:
    """``pulumi stack rm``: the stack and its state, once its destroy succeeded."""
    if not destroyed:
        return Step(env, "stack", "skipped", f"kept {stack}: its destroy failed, its state still counts")
    return guard(Step(env, "stack", "done", f"pulumi stack rm {stack}"), lambda s: on.stacks.remove(stack))


def verify(on: Systems, env: str, stack: str, project_name: str, unit: str, app: str) -> Step:
    """List again: anything ours left in the project, or the stack still there, is a failure."""
    step = Step(env, "verify", "done", "nothing of ours remains")
    try:
        project = on.cloud.find_project(project_name)
        if project is not None:
            left = decide(on.cloud.sweep(project).inventory(), unit, app, is_ours(project, unit, app))
            step.foreign = foreign(env, left)
            step.failures = [Failure(env, f.kind, f.id, f.name, "still there after the sweep") for f in left.delete]
            if not step.failures:
                step.detail = f"nothing of ours remains; project {project_name} kept"
        if on.stacks.exists(stack):
            step.failures.append(Failure(env, "stack", stack, stack, "stack state still there"))
    except GovcloudError as exc:
        step.failures.append(Failure(env, "inventory", project_name, project_name, str(exc)))
    if step.failures:
        step.status, step.detail = "failed", f"{len(step.failures)} remain"
    return step


def delete_all(sweep: Sweep, batch: list[Found], workers: int = WORKERS) -> list[tuple[Found, str | None]]:
    """Delete one wave (one kind), ``workers`` at a time; each failure caught, kept and counted."""

    def one(found: Found) -> tuple[Found, str | None]:
        try:
            sweep.delete(found)
            return found, None
        except GovcloudError as exc:
            return found, str(exc)

    if len(batch) <= 1 or workers <= 1:
        return [one(f) for f in batch]
    with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
        return list(pool.map(one, batch))


def guard(step: Step, action: Callable[[Step], Any]) -> Step:
    """Run ``action(step)``; a govcloud error fails the step, the run goes on."""
    try:
        action(step)
    except GovcloudError as exc:
        step.fail(Failure(step.environment, step.step, "", "", str(exc)))
    return step


def foreign(env: str, decision: Decision) -> list[dict[str, Any]]:
    return [{"environment": env, **f.as_dict()} for f in decision.foreign]


def deferred(step: Step, until: str) -> Step:
    """A step whose failures a later step of the run takes up: not failed, its errors told."""
    if step.failures:
        first = step.failures[0]
        step.detail += (
            f"; {len(step.failures)} {until} (first: {first.kind} {first.id}: {first.error})"
            if first.id
            else f"; {until}: {first.error}"
        )
        step.status, step.failures = "deferred", []
    return step
