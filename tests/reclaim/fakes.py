"""An in-memory cloud, engine and Keycloak admin API for the reclamation service, with the
outside systems' own refusals.

The fake cloud refuses what a real cloud refuses (a container with objects, a network with subnets
or ports, a volume whose server still exists, a router with interfaces) and records the order
of deletions, so ordering mistakes fail the tests. Its projects carry the role assignments a
stack makes (the unit's and the provider's groups, the provisioning user), dropped with the
project as Keystone does. The fake Keycloak admin sits under the real
:class:`~orchestrator.adapters.platform.KeycloakPlatform`, so the service's platform step runs
through the real client decision.
"""

from __future__ import annotations

from typing import Any

from orchestrator.adapters.engine import StateResource
from orchestrator.adapters.platform import PlatformClient, PlatformError
from orchestrator.core.access import Assignment
from orchestrator.core.reclaim import ORDER, STATE_KINDS, Found
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
            if (cloud.kill_after is not None and len(cloud.deleted) >= cloud.kill_after) or found.id == cloud.kill_at:
                cloud.kill_at = None
                raise Killed()
            if found.id in cloud.broken:
                raise ExternalError(f"{found.kind} {found.id}: 409 Conflict: {cloud.broken[found.id]}")
            present = next((f for f in self.items if f.id == found.id), None)
            if present is None:
                return  # gone already: ignore-missing semantics
            blockers = [
                f
                for f in self.items
                if f.kind in REFUSED_WHILE.get(found.kind, ()) and (found.kind != "container" or f.owned_by == found.id)
            ]
            if blockers:
                raise ExternalError(
                    f"{found.kind} {found.id}: 409 Conflict: in use by {blockers[0].kind} {blockers[0].id}"
                )
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
        self.kill_before_project = False
        self.kill_at: str | None = None
        """The id whose deletion is killed (once)."""
        self.listings = 0
        self.lock = threading.Lock()
        self.user_id = "u-govcloud-admin"
        self.assignments: dict[str, list[Assignment]] = {}
        self.unverifiable: set[str] = set()
        """Ids whose look-up by id the cloud refuses."""
        self.stuck_assignments: dict[str, str] = {}
        """Assignment id -> the error Keystone answers when asked to remove it."""

    def add_project(
        self, env: str, labels: dict | None = None, items: list[Found] = (), *, unit: str = UNIT, app: str = APP
    ) -> Found:
        """A project as a stack leaves it: its resources, and the grants of ``core.access`` plus
        the provisioning user's role."""
        name = f"{unit}-{app}-{env}"
        ours = dict(OURS, unit=unit, app=app, env=env)
        project = Found(
            "project", f"p-{env}" if app == APP else f"p-{app}-{env}", name, ours if labels is None else labels
        )
        self.projects[name] = project
        self.items[project.id] = list(items)
        self.assignments[project.id] = [
            Assignment(project.id, "r-member", "member", "group", "g-admins", f"{unit}-admins"),
            Assignment(project.id, "r-reader", "reader", "group", "g-operators", f"{unit}-operators"),
            Assignment(project.id, "r-member", "member", "group", "g-ops", "govcloud-provider-ops"),
            Assignment(project.id, "r-member", "member", "user", self.user_id, "govcloud-admin"),
        ]
        return project

    def find_project(self, name: str) -> Found | None:
        return self.projects.get(name)

    def exists(self, kind: str, id: str, project_id: str) -> bool:
        """Looked up by id, in any project (an admin's look-up)."""
        if id in self.unverifiable:
            raise ExternalError(f"looking up {kind} {id} failed: 403 Forbidden")
        if kind == "volume_attachment":
            kind, id = "server", id.split("/")[0]
        return any(f.kind == kind and f.id == id for items in self.items.values() for f in items)

    def sweep(self, project: Found) -> FakeSweep:
        return FakeSweep(self, project.id)

    def delete_project(self, project: Found) -> None:
        if self.items[project.id]:
            raise ExternalError(f"project {project.name} still holds {len(self.items[project.id])} resources")
        if self.kill_before_project:
            raise Killed()
        self.projects.pop(project.name, None)
        self.assignments.pop(project.id, None)  # Keystone drops a project's assignments with it
        self.deleted_projects.append(project.name)

    def role_assignments(self, project_id: str) -> list[Assignment]:
        return list(self.assignments.get(project_id, []))

    def delete_role_assignment(self, assignment: Assignment) -> None:
        if assignment.id in self.stuck_assignments:
            raise ExternalError(f"removing {assignment.name}: {self.stuck_assignments[assignment.id]}")
        present = self.assignments.get(assignment.project_id, [])
        if assignment in present:
            present.remove(assignment)


#: Found kind -> the Pulumi type a stack holds it as.
PULUMI_TYPES = {kind: type_ for type_, kind in STATE_KINDS.items()}


class FakeStacks:
    """Stacks in a backend. A stack made by :func:`deploy` holds its resources (the project,
    retained on destroy, and what carries our labels); its destroy then deletes them from the
    fake cloud with the cloud's refusals (a container with objects, a volume with snapshots),
    keeps what it could not delete in the state, and cannot authenticate once the project is
    gone, as the real engine with a provider scoped to the project."""

    def __init__(self, *names: str, cloud: FakeCloud | None = None) -> None:
        self.names = set(names)
        self.cloud = cloud
        self.state: dict[str, list[StateResource]] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_destroy: set[str] = set()
        self.kill_destroy: set[str] = set()
        """Stacks whose destroy is killed after it deleted one resource."""
        self.missing: str | None = None
        """The engine adapter's sentence when the engine is not there (:meth:`ready` raises it)."""

    def ready(self) -> None:
        if self.missing:
            raise ExternalError(self.missing)

    def exists(self, stack: str) -> bool:
        return stack in self.names

    def held(self, stack: str) -> list[StateResource]:
        return list(self.state.get(stack, []))

    def destroy(self, stack: str) -> dict[str, int]:
        self.calls.append(("destroy", stack))
        if stack in self.fail_destroy:
            raise ExternalError(f"pulumi destroy of stack {stack} failed: error: boom")
        held = self.state.get(stack)
        if not held:
            return {"delete": 7} if held is None else {}
        assert self.cloud is not None
        project = next((p for p in self.cloud.projects.values() if any(r.id == p.id for r in held)), None)
        if project is None:
            raise ExternalError(
                f"pulumi destroy of stack {stack} failed: error: 401 Unauthorized: The request "
                "you have made requires authentication"
            )
        sweep, rank = FakeSweep(self.cloud, project.id), {k: i for i, k in enumerate(ORDER)}
        kinds = {t: k for k, t in PULUMI_TYPES.items()}
        for r in sorted(held, key=lambda r: rank.get(kinds.get(r.type, ""), -1)):
            if r.type == "openstack:identity/project:Project":
                continue  # retained: leaves the state, stays in the cloud
            found = next((f for f in sweep.items if f.id == r.id), Found(kinds[r.type], r.id))
            try:
                sweep.delete(found)
            except ExternalError as exc:
                raise ExternalError(f"pulumi destroy of stack {stack} failed: error: deleting {r.urn}: {exc}") from exc
            held.remove(r)
            if found.kind == "server":  # Nova deletes the ports it made for the server
                sweep.items[:] = [f for f in sweep.items if not (f.kind == "port" and f.owned_by == found.id)]
            if stack in self.kill_destroy:
                self.kill_destroy.discard(stack)
                raise Killed()
        held.clear()
        return {"delete": 1}

    def remove(self, stack: str, force: bool = False) -> None:
        self.calls.append(("rm", stack))
        if self.state.get(stack) and not force:
            raise ExternalError(f"pulumi stack rm {stack} failed: error: {stack} still has resources")
        self.names.discard(stack)
        self.state.pop(stack, None)


def deploy(cloud: FakeCloud, stacks: FakeStacks, env: str = "test") -> Found:
    """``environment(env)`` in a project, held by its stack as ``pulumi up`` leaves it."""
    project = cloud.add_project(env, items=environment(env))
    stack = f"{UNIT}.{APP}.{env}"
    stacks.cloud = cloud
    stacks.names.add(stack)
    stacks.state[stack] = [StateResource(f"urn:{project.name}", "openstack:identity/project:Project", project.id)] + [
        StateResource(f"urn:{f.name}:{f.id}", PULUMI_TYPES[f.kind], f.id)
        for f in cloud.items[project.id]
        if (f.labels or f.kind == "router_interface") and f.kind in PULUMI_TYPES
    ]
    return project


class FakeKeycloakAdmin:
    """:class:`~orchestrator.adapters.platform.KeycloakAdmin`'s two verbs over realm -> clients."""

    url = "https://sso.invalid"

    def __init__(self) -> None:
        self.realms: dict[str, dict[str, PlatformClient]] = {}
        self.deleted: list[str] = []
        self.refuse: set[str] = set()
        """Internal ids whose deletion the platform refuses (500)."""
        self.pretend: set[str] = set()
        """Internal ids whose deletion answers 204 and keeps the client."""
        self.down = False

    def add(self, realm: str, client_id: str, labels: dict[str, str] | None = None) -> str:
        clients = self.realms.setdefault(realm, {})
        internal = f"uuid-{realm}-{len(clients)}"
        clients[internal] = PlatformClient(realm, internal, client_id, dict(labels or {}))
        return internal

    def clients(self, realm: str, prefix: str):
        if self.down:
            raise PlatformError("authentication platform unreachable: GET https://sso.invalid/admin/realms")
        return [c for c in self.realms.get(realm, {}).values() if c.client_id.startswith(prefix)]

    def delete_client(self, realm: str, id: str, ignore_missing: bool = True) -> None:
        if id in self.refuse:
            raise PlatformError(f"authentication platform: DELETE /admin/realms/{realm}/clients/{id} answered 500")
        if id not in self.pretend and self.realms.get(realm, {}).pop(id, None) is not None:
            self.deleted.append(id)


def environment(env: str = "test", *, unit: str = UNIT, app: str = APP) -> list[Found]:
    """A typical leftover environment: a bit of everything, all tagged for our application."""
    o = dict(OURS, unit=unit, app=app, env=env)
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
        Found("container", f"{env}-files", "social-security-files", o),
        Found("object", f"{env}-files/a.pdf", "a.pdf", owned_by=f"{env}-files"),
        Found("object", f"{env}-files/b.pdf", "b.pdf", owned_by=f"{env}-files"),
        Found("database_backup", f"{env}-bk", "before-termination", owned_by=f"{env}-db"),
        Found("database_instance", f"{env}-db", "social-security-db", o),
        Found("image", f"{env}-img", "social-security-golden", o),
    ]


def reclaimer(
    lifecycle: Any,
    leases: Any,
    actor: Any,
    cloud: FakeCloud | None = None,
    stacks: FakeStacks | None = None,
    keycloak: FakeKeycloakAdmin | None = None,
    **kw: Any,
) -> Any:
    """The real :class:`~orchestrator.services.reclaim.Reclaimer` over these fakes: the platform is
    the real Keycloak adapter over ``keycloak`` (an empty one by default)."""
    from orchestrator.adapters.platform import KeycloakPlatform
    from orchestrator.core.platform import AuthSettings
    from orchestrator.services.reclaim import Reclaimer

    platform = KeycloakPlatform(keycloak or FakeKeycloakAdmin(), AuthSettings("government"))
    kw.setdefault("workers", 1)
    return Reclaimer(lifecycle, leases, cloud or FakeCloud(), stacks or FakeStacks(), actor, platform=platform, **kw)
