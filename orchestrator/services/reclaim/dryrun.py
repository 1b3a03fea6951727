"""The outside systems as a dry run sees them, so that a dry run takes the real run's steps.

As openstacksdk's project cleanup passes ``dry_run`` down to the one helper that deletes, a dry
run here is the real run over a view of the cloud, the engine and the platform in which every
read goes through and every deletion is noted instead of done. Later reads no longer list what
was noted (a project noted gone takes its role assignments along, as Keystone does), so each
step decides as it would after the steps before it, and nothing is counted twice. ``pulumi
destroy`` is noted and deletes nothing: what it would remove is counted by the sweep after it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from orchestrator.core.access import Assignment
from orchestrator.core.reclaim import ORDER, Decision, Found, Step

if TYPE_CHECKING:
    from orchestrator.adapters.engine import StateResource
    from orchestrator.services.reclaim.ports import CloudPort, Platform, Stacks, Sweep

_RANK = {kind: i for i, kind in enumerate(ORDER)}


class DryRun:
    """A view of ``cloud``, ``stacks`` and ``platform`` (those given) that notes deletions instead
    of doing them."""

    def __init__(
        self, cloud: CloudPort | None = None, stacks: Stacks | None = None, platform: Platform | None = None
    ) -> None:
        self._gone: set[tuple[str, str]] = set()
        self._noted: list[Found | Assignment] = []
        self._lock = threading.Lock()  # a wave deletes from several threads
        self.cloud = _Cloud(cloud, self) if cloud is not None else None
        self.stacks = _Stacks(stacks, self) if stacks is not None else None
        self.platform = _Platform(platform, self) if platform is not None else None

    def planned(self, step: Step) -> Step:
        """``step``, taken over this view, as a dry run reports it: done becomes planned, with
        what it would delete (noted since the last step) as its plan, item by item of its counts
        (the default security group that goes with its project is counted by neither)."""
        step.plan = [item for item in self.plan() if item["kind"] in step.deleted]
        if step.status == "done":
            step.status = "planned"
        return step

    def note(self, kind: str, id: str, item: Found | Assignment | None = None) -> None:
        """``kind`` ``id`` would be deleted (``item``: listed in the plan)."""
        with self._lock:
            self._gone.add((kind, id))
            if item is not None:
                self._noted.append(item)

    def gone(self, kind: str, id: str) -> bool:
        return (kind, id) in self._gone

    def plan(self) -> list[dict[str, Any]]:
        """What was noted since the last call, in deletion order: one step's plan."""
        with self._lock:
            noted, self._noted = self._noted, []
        return [x.as_dict() for x in sorted(noted, key=lambda x: (_RANK.get(x.kind, len(_RANK)), x.name, x.id))]


class _Sweep:
    def __init__(self, sweep: Sweep, view: DryRun) -> None:
        self._sweep, self._view = sweep, view

    def inventory(self) -> list[Found]:
        return [f for f in self._sweep.inventory() if not self._view.gone(f.kind, f.id)]

    def delete(self, found: Found) -> None:
        self._view.note(found.kind, found.id, found)


class _Cloud:
    def __init__(self, cloud: CloudPort, view: DryRun) -> None:
        self._cloud, self._view = cloud, view

    @property
    def user_id(self) -> str | None:
        return self._cloud.user_id

    def find_project(self, name: str) -> Found | None:
        project = self._cloud.find_project(name)
        return None if project is None or self._view.gone("project", project.id) else project

    def sweep(self, project: Found) -> _Sweep:
        return _Sweep(self._cloud.sweep(project), self._view)

    def exists(self, kind: str, id: str, project_id: str) -> bool:
        return not self._view.gone(kind, id) and self._cloud.exists(kind, id, project_id)

    def delete_project(self, project: Found) -> None:
        self._view.note("project", project.id, project)

    def role_assignments(self, project_id: str) -> list[Assignment]:
        if self._view.gone("project", project_id):
            return []  # Keystone drops a project's assignments with it
        return [a for a in self._cloud.role_assignments(project_id) if not self._view.gone(a.kind, a.id)]

    def delete_role_assignment(self, assignment: Assignment) -> None:
        self._view.note(assignment.kind, assignment.id, assignment)


class _Stacks:
    def __init__(self, stacks: Stacks, view: DryRun) -> None:
        self._stacks, self._view = stacks, view

    def ready(self) -> object:
        return self._stacks.ready()

    def exists(self, stack: str) -> bool:
        return not self._view.gone("stack", stack) and self._stacks.exists(stack)

    def held(self, stack: str) -> list[StateResource]:
        return [] if self._view.gone("stack", stack) else self._stacks.held(stack)

    def destroy(self, stack: str) -> dict[str, int]:
        return {}  # the engine's count is unknown until it runs; the sweep counts what it would remove

    def remove(self, stack: str, force: bool = False) -> None:
        self._view.note("stack", stack)


class _Platform:
    def __init__(self, platform: Platform, view: DryRun) -> None:
        self._platform, self._view = platform, view
        self.where = platform.where

    def clients(self, unit: str, app: str, env: str) -> Decision:
        found = self._platform.clients(unit, app, env)
        return Decision(
            tuple(f for f in found.delete if not self._view.gone(f.kind, f.id)), found.foreign, found.builtin
        )

    def delete_client(self, found: Found) -> None:
        self._view.note(found.kind, found.id, found)
