"""An in-memory cloud and engine for the reclamation service, with the cloud's own refusals.

The fake refuses what a real cloud refuses (a container with objects, a network with subnets
or ports, a volume whose server still exists, a router with interfaces) and records the order
of deletions, so ordering mistakes fail the tests.
"""

from __future__ import annotations

from orchestrator.core.reclaim import Found
from orchestrator.errors import ExternalError

UNIT, APP = "rsj", "social-security"
OURS = {"unit": UNIT, "app": APP, "env": "test", "digest": "sha256:x"}
OTHER = {"unit": UNIT, "app": "other-app", "env": "test", "digest": "sha256:y"}

#: kind -> kinds whose presence (in the same project) makes the cloud refuse its deletion.
REFUSED_WHILE = {
    "container": {"object"},
    "network": {"subnet", "port"},
    "subnet": {"router_interface", "port"},
    "router": {"router_interface"},
    "volume": {"server", "snapshot"},
    "security_group": {"server", "port"},
}


class Killed(BaseException):
    """A simulated kill of the process (not an error a run could catch)."""


class FakeSweep:
    def __init__(self, cloud: FakeCloud, project_id: str) -> None:
        self.cloud, self.project_id = cloud, project_id

    @property
    def items(self) -> list[Found]:
        return self.cloud.items[self.project_id]

    def inventory(self) -> list[Found]:
        self.cloud.listings += 1
        return list(self.items)

    def delete(self, found: Found) -> None:
        cloud = self.cloud
        with cloud.lock:
            if cloud.kill_after is not None and len(cloud.deleted) >= cloud.kill_after:
                raise Killed()
            if found.id in cloud.broken:
                raise ExternalError(f"{found.kind} {found.id}: 409 Conflict: {cloud.broken[found.id]}")
            present = next((f for f in self.items if f.id == found.id), None)
            if present is None:
                return  # gone already: ignore-missing semantics
            blockers = [f for f in self.items if f.kind in REFUSED_WHILE.get(found.kind, ())
                        and (found.kind != "container" or f.owned_by == found.id)]
            if blockers:
                raise ExternalError(f"{found.kind} {found.id}: 409 Conflict: in use by {blockers[0].kind} {blockers[0].id}")
            self.items.remove(present)
            cloud.deleted.append(found)


class FakeCloud:
    def __init__(self) -> None:
        import threading

        self.projects: dict[str, Found] = {}
        self.items: dict[str, list[Found]] = {}
        self.deleted: list[Found] = []
        self.deleted_projects: list[str] = []
        self.broken: dict[str, str] = {}
        self.kill_after: int | None = None
        self.listings = 0
        self.lock = threading.Lock()

    def add_project(self, env: str, labels: dict | None = None, items: list[Found] = ()) -> Found:
        name = f"{UNIT}-{APP}-{env}"
        project = Found("project", f"p-{env}", name, dict(OURS, env=env) if labels is None else labels)
        self.projects[name] = project
        self.items[project.id] = list(items)
        return project

    def find_project(self, name: str) -> Found | None:
        return self.projects.get(name)

    def sweep(self, project: Found) -> FakeSweep:
        return FakeSweep(self, project.id)

    def delete_project(self, project: Found) -> None:
        if self.items[project.id]:
            raise ExternalError(f"project {project.name} still holds {len(self.items[project.id])} resources")
        self.projects.pop(project.name, None)
        self.deleted_projects.append(project.name)


class FakeStacks:
    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.calls: list[tuple[str, str]] = []
        self.fail_destroy: set[str] = set()

    def exists(self, stack: str) -> bool:
        return stack in self.names

    def destroy(self, stack: str) -> dict[str, int]:
        self.calls.append(("destroy", stack))
        if stack in self.fail_destroy:
            raise ExternalError(f"pulumi destroy of stack {stack} failed: error: boom")
        return {"delete": 7}

    def remove(self, stack: str) -> None:
        self.calls.append(("rm", stack))
        self.names.discard(stack)


class FakePlatform:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def remove_clients(self, app_id: str, env: str) -> list[str]:
        self.calls.append((app_id, env))
        return [f"{app_id}-{env}-web"]


def environment(env: str = "test") -> list[Found]:
    """A typical leftover environment: a bit of everything, all tagged for our application."""
    o = dict(OURS, env=env)
    return [
        Found("floating_ip", f"{env}-fip", "203.0.113.5", o),
        Found("server", f"{env}-srv", "social-security-web-1", o),
        Found("port", f"{env}-srvport", "social-security-web-1", owned_by=f"{env}-srv"),
        Found("volume", f"{env}-vol", "social-security-web-1-data", o),
        Found("snapshot", f"{env}-snap", "nightly", o),
        Found("router_interface", f"{env}-ri", "", owned_by=f"{env}-router"),
        Found("router", f"{env}-router", "social-security-router", o),
        Found("subnet", f"{env}-subnet", "social-security-subnet", o),
        Found("network", f"{env}-net", "social-security-net", o),
        Found("security_group", f"{env}-sg", "social-security-web", o),
        Found("security_group", f"{env}-default", "default"),
        Found("container", f"{env}-files", f"social-security-files", o),
        Found("object", f"{env}-files/a.pdf", "a.pdf", owned_by=f"{env}-files"),
        Found("object", f"{env}-files/b.pdf", "b.pdf", owned_by=f"{env}-files"),
        Found("database_backup", f"{env}-bk", "before-termination", owned_by=f"{env}-db"),
        Found("database_instance", f"{env}-db", "social-security-db", o),
        Found("image", f"{env}-img", "social-security-golden", o),
    ]
