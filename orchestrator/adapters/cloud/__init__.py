"""The cloud (openstacksdk): capacity and use, per-project usage, the quota sets applied to a project,
and the projects that reclamation sweeps (:mod:`orchestrator.adapters.cloud.sweep`).

Takes and returns core types (:class:`~orchestrator.core.capacity.Measure`,
:class:`~orchestrator.core.sizing.Quotas`, :class:`~orchestrator.core.usage.ProjectUsage`);
openstacksdk objects never leave this module. The cloud's times (UTC) become naive Beijing time,
the clock of the ledger and the reports.
openstacksdk errors are converted here, once: a figure the cloud does not tell (a service it does
not expose, an answer it refuses, an error) is *unknown* with the reason, never 0; a cloud that
does not answer at connection raises :class:`CloudUnreachable`.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.adapters.cloud.times import _beijing
from orchestrator.core.access import Assignment
from orchestrator.core.capacity import COMPUTE_CLASSES, Measure, combine, effective_capacity
from orchestrator.core.dbaccess import Observed
from orchestrator.core.naming import parse_tags
from orchestrator.core.reclaim import Found
from orchestrator.core.sizing import Quotas
from orchestrator.core.usage import USAGE_PARTS, ContainerUsage, ProjectUsage, ServerUsage, VolumeUsage
from orchestrator.errors import ExternalError, NotFound

if TYPE_CHECKING:
    from orchestrator.adapters.cloud.backups import ProjectBackups
    from orchestrator.adapters.cloud.sweep import ProjectSweep

T = TypeVar("T")

#: Quota keys (as the quota APIs and ``sizing.quotas`` name them) -> openstacksdk attribute names.
NETWORK_QUOTA_ATTRS: dict[str, str] = {
    "network": "networks",
    "subnet": "subnets",
    "router": "routers",
    "port": "ports",
    "floatingip": "floating_ips",
    "security_group": "security_groups",
    "security_group_rule": "security_group_rules",
}


#: The Keystone tag of the provider's archive project.
ARCHIVE_TAG = "govcloud:purpose=backup-archive"
#: The Keystone tag of an application's project on the backup site.
OFFSITE_TAG = "govcloud:purpose=offsite-backup"


class CloudUnreachable(ExternalError):
    """The cloud did not answer or refused our credentials."""


class Cloud:
    """One OpenStack cloud, reached with the credentials of ``clouds.yaml`` / ``OS_CLOUD``."""

    def __init__(self, connection: Any, name: str | None = None) -> None:
        self._conn = connection
        self.name = name or getattr(connection, "name", None) or "default"

    @classmethod
    def connect(cls, name: str | None = None) -> Cloud:
        """Connect and authenticate; raises :class:`CloudUnreachable` in one sentence."""
        import openstack

        for library in ("keystoneauth", "openstack"):  # their warnings are ours to report, once
            logging.getLogger(library).addHandler(logging.NullHandler())
        label = name or os.environ.get("OS_CLOUD") or "(default)"
        conn = None
        try:
            conn = openstack.connect(cloud=name)
            conn.authorize()
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            raise CloudUnreachable(f"cloud {label} is unreachable: {_reason(exc, conn)}") from exc
        return cls(conn, label)

    @classmethod
    def lazy(cls, name: str | None = None) -> Cloud:
        """The cloud, connected on first use: the ledger's gates speak before the cloud is asked."""
        return _LazyCloud(name)  # type: ignore[return-value]  # the same attributes, looked up late

    # --- capacity (Art. 31) --------------------------------------------------------------------

    def capacity(self) -> list[Measure]:
        """Compute, block-storage and network measures; unknown where a service stays silent."""
        return [*self.compute_capacity(), *self.block_storage_capacity(), *self.network_capacity()]

    def compute_capacity(self) -> list[Measure]:
        """vCPU, RAM and disk from placement (inventories and usages); hypervisors as fallback."""
        providers, reason = self._attempt(lambda: list(self._conn.placement.resource_providers()))
        if not providers:
            return self._hypervisor_capacity(reason)
        parts: dict[str, list[tuple[float, float]]] = {rc: [] for rc in COMPUTE_CLASSES}
        failed = ""
        for rp in providers:
            inventories, why = self._attempt(lambda rp=rp: list(self._conn.placement.resource_provider_inventories(rp)))
            usages, why_usages = self._attempt(
                lambda rp=rp: self._conn.placement.fetch_resource_provider_usages(rp).usages
            )
            failed = failed or why or why_usages or ""
            for inv in inventories or []:
                if inv.resource_class in parts:
                    cap = effective_capacity(inv.total or 0, inv.reserved or 0, inv.allocation_ratio or 1.0)
                    parts[inv.resource_class].append(((usages or {}).get(inv.resource_class, 0), cap))
        return [combine(name, parts[rc], unit, "placement", failed) for rc, (name, unit) in COMPUTE_CLASSES.items()]

    def _hypervisor_capacity(self, placement_reason: str | None = None) -> list[Measure]:
        hypervisors, reason = self._attempt(lambda: list(self._conn.compute.hypervisors(details=True)))
        if reason and placement_reason:
            reason = f"placement: {placement_reason}; hypervisors: {reason}"
        fields = {
            "VCPU": ("vcpus_used", "vcpus"),
            "MEMORY_MB": ("memory_used", "memory_size"),
            "DISK_GB": ("local_disk_used", "local_disk_size"),
        }
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the statistics fields are deprecated (microversion 2.88)
            for rc, (name, unit) in COMPUTE_CLASSES.items():
                used_attr, size_attr = fields[rc]
                pairs = [(_number(getattr(h, used_attr)), _number(getattr(h, size_attr))) for h in hypervisors or []]
                known = [(u, s) for u, s in pairs if u is not None and s is not None]
                why = reason or ("" if len(known) == len(pairs) else "a hypervisor did not report it")
                out.append(combine(name, known, unit, "hypervisors", why or ""))
        return out

    def block_storage_capacity(self) -> list[Measure]:
        """One measure per Cinder back-end pool (``total`` and ``free`` capacity in GB)."""
        pools, reason = self._attempt(lambda: list(self._conn.block_storage.backend_pools()))
        if not pools:
            return [Measure("block storage", None, None, "GB", "cinder pools", reason or "the cloud reports no pool")]
        out = []
        for pool in pools:
            caps = pool.capabilities or {}
            total, free = _number(caps.get("total_capacity_gb")), _number(caps.get("free_capacity_gb"))
            if total is not None and free is not None:
                out.append(Measure(f"block storage {pool.name}", total - free, total, "GB", "cinder pools", ""))
            else:
                out.append(
                    Measure(
                        f"block storage {pool.name}",
                        None,
                        None,
                        "GB",
                        "cinder pools",
                        f"the pool reports {caps.get('total_capacity_gb')!r} GB",
                    )
                )
        return out

    def network_capacity(self) -> list[Measure]:
        """IP availability of external networks (floating IPs) and shared networks."""
        externals, r1 = self._attempt(lambda: {n.id for n in self._conn.network.networks(is_router_external=True)})
        shared, r2 = self._attempt(lambda: {n.id for n in self._conn.network.networks(is_shared=True)})
        available, r3 = self._attempt(lambda: list(self._conn.network.network_ip_availabilities()))
        reason = r1 or r2 or r3
        if reason or externals is None or available is None:
            return [Measure("floating ips", None, None, "IPs", "neutron ip availability", reason or "")]
        out = []
        for a in available:
            if a.network_id in externals:
                label = f"floating ips {a.network_name}"
            elif a.network_id in (shared or set()):
                label = f"network {a.network_name} ips"
            else:
                continue
            out.append(Measure(label, a.used_ips, a.total_ips, "IPs", "neutron ip availability"))
        return out or [
            Measure("floating ips", None, None, "IPs", "neutron ip availability", "the cloud has no external network")
        ]

    # --- per-project usage (Art. 30) ----------------------------------------------------------

    def project_usage(self, project: str) -> ProjectUsage:
        """Servers, volumes and containers of the Keystone project named ``project`` (empty if
        there is none). A part the cloud does not tell is *unknown* with the cloud's reason
        (``ProjectUsage.unknown``), never empty: an error is not a zero."""
        found, reason = self._attempt(lambda: self._conn.identity.find_project(project, ignore_missing=True))
        if reason is not None:
            return ProjectUsage(project, unknown=dict.fromkeys(USAGE_PARTS, reason))
        if found is None:
            return ProjectUsage(project)
        parts: dict[str, tuple[Any, ...]] = {}
        unknown: dict[str, str] = {}
        readers: dict[str, Callable[[str], list[Any]]] = {
            "servers": self.project_servers,
            "volumes": self.project_volumes,
            "containers": self.project_containers,
        }
        for part, read in readers.items():
            got, reason = self._attempt(functools.partial(read, found.id))
            parts[part] = tuple(got or ())
            if reason is not None:
                unknown[part] = reason
        return ProjectUsage(project, parts["servers"], parts["volumes"], parts["containers"], unknown)

    def project_servers(self, project_id: str) -> list[ServerUsage]:
        """Each server of the project with its status, since when, and its flavor's size."""
        found = self._conn.compute.servers(details=True, all_projects=True, project_id=project_id)
        out = []
        for s in found:
            flavor = s.flavor or {}
            ram_mb = _number(flavor.get("ram"))
            vcpus = _number(flavor.get("vcpus"))
            out.append(
                ServerUsage(
                    s.name,
                    s.status,
                    _beijing(s.updated_at or s.launched_at),
                    int(vcpus) if vcpus is not None else None,
                    ram_mb / 1024 if ram_mb is not None else None,
                )
            )
        return out

    def project_volumes(self, project_id: str) -> list[VolumeUsage]:
        """Each volume of the project, attached or not, and since when (its last update)."""
        found = self._conn.block_storage.volumes(details=True, all_projects=True, project_id=project_id)
        return [
            VolumeUsage(
                v.name or v.id,
                int(v.size or 0),
                bool(v.attachments) or v.status == "in-use",
                _beijing(v.updated_at or v.created_at),
            )
            for v in found
        ]

    def project_containers(self, project_id: str) -> list[ContainerUsage]:
        """Each object-storage container of the project with its object count and bytes, from a
        HEAD of the container (the account's listing lags where the container updater does not
        run), through a connection scoped to the project by its id."""
        scoped = self._conn.connect_as_project({"id": project_id})
        store = scoped.object_store
        out = []
        for c in store.containers():
            head = store.get_container_metadata(c.name)
            out.append(ContainerUsage(c.name, int(head.object_count or 0), int(head.bytes_used or 0)))
        return out

    # --- applied quotas ------------------------------------------------------------------------

    def project_quotas(self, project: str) -> Quotas:
        """The compute, network and block-storage quota sets the cloud reports for ``project``."""
        from openstack import exceptions

        try:
            compute = self._conn.get_compute_quotas(project)
            network = self._conn.get_network_quotas(project)
            volume = self._conn.get_volume_quotas(project)
        except exceptions.NotFoundException as exc:
            raise NotFound(f"project {project} does not exist in cloud {self.name}") from exc
        except exceptions.SDKException as exc:
            if "not a valid project" in str(exc) or "No Project found" in str(exc):
                raise NotFound(f"project {project} does not exist in cloud {self.name}") from exc
            raise ExternalError(f"cloud {self.name} did not report the quotas of {project}: {exc}") from exc
        if compute is None or network is None or volume is None:
            raise NotFound(f"project {project} does not exist in cloud {self.name}")
        return Quotas(
            compute={k: getattr(compute, k) for k in ("instances", "cores", "ram")},
            network={k: getattr(network, attr) for k, attr in NETWORK_QUOTA_ATTRS.items()},
            block_storage={k: getattr(volume, k) for k in ("volumes", "gigabytes", "snapshots")},
        )

    # --- database access (Trove) -------------------------------------------------------------------

    def database_access(self, project: str) -> list[Observed]:
        """Each Trove instance of ``project``: Trove's access setting and the ingress rules of the
        security group Trove made for its port (in Trove's own project, found as admin by name)."""
        trove, endpoint = self._trove(project)
        listed = self._call(
            lambda: trove.get(f"{endpoint}/instances", endpoint_filter=None).json()["instances"],
            f"listing the database instances of {project}",
        )
        found = []
        for item in listed:
            detail = self._call(
                lambda i=item: trove.get(f"{endpoint}/instances/{i['id']}", endpoint_filter=None).json()["instance"],
                f"reading database instance {item['name']}",
            )
            groups = self._call(
                lambda i=item: list(self._conn.network.security_groups(name=f"trove_sg-{i['id']}")),
                f"finding the security group of database instance {item['name']}",
            )
            rules = tuple(
                sorted(
                    (r["protocol"] or "any", r["port_range_min"], r["port_range_max"], r["remote_ip_prefix"])
                    for g in groups
                    for r in g.security_group_rules
                    if r["direction"] == "ingress"
                )
            )
            access = detail.get("access") or {}
            found.append(Observed(item["name"], item["id"], tuple(access.get("allowed_cidrs") or ()), rules))
        return found

    def set_database_access(self, project: str, instance_id: str, cidrs: list[str]) -> None:
        """Trove's access of one instance: not public, reachable from ``cidrs`` only (Trove
        rewrites its security group's ingress rules)."""
        trove, endpoint = self._trove(project)
        body = {"instance": {"access": {"is_public": False, "allowed_cidrs": cidrs}}}
        response = self._call(
            lambda: trove.put(f"{endpoint}/instances/{instance_id}", json=body, endpoint_filter=None, raise_exc=False),
            f"setting the access of database instance {instance_id}",
        )
        if response.status_code >= 400:
            raise ExternalError(
                f"cloud {self.name}: Trove refused the access of database instance "
                f"{instance_id}: {response.status_code} {response.text[:300]}"
            )

    def _trove(self, project: str) -> tuple[Any, str]:
        """A session scoped to ``project`` (Trove lists the token's project) and Trove's endpoint."""
        found = self._call(
            lambda: self._conn.identity.find_project(project, ignore_missing=True), f"looking up project {project}"
        )
        if found is None:
            raise NotFound(f"project {project} does not exist in cloud {self.name}")
        scoped = self._call(lambda: self._conn.connect_as_project(found), f"scoping to project {project}")
        return scoped.session, self._call(lambda: scoped.endpoint_for("database"), "finding Trove's endpoint")

    # --- projects and their sweep (Art. 16) ---------------------------------------------------

    def find_project(self, name: str) -> Found | None:
        """The Keystone project ``name`` (kind ``project``, labels from its tags), or ``None``."""
        project = self._call(
            lambda: self._conn.identity.find_project(name, ignore_missing=True), f"looking up project {name}"
        )
        if project is None:
            return None
        return Found("project", project.id, project.name, parse_tags(project.tags or []))

    def sweep(self, project: Found) -> ProjectSweep:
        """The sweep of ``project`` through a connection scoped to it."""
        from orchestrator.adapters.cloud.sweep import ProjectSweep

        conn = self._call(
            lambda: self._conn.connect_as_project({"id": project.id, "name": project.name}),
            f"scoping a connection to project {project.name} (does our user hold a role there?)",
        )
        return ProjectSweep(conn, project.id, admin=self._conn)

    def backups(self, project: str) -> ProjectBackups:
        """The backups of the Keystone project named ``project`` (:class:`NotFound` when there is none)."""
        from orchestrator.adapters.cloud.backups import ProjectBackups

        found = self._call(
            lambda: self._conn.identity.find_project(project, ignore_missing=True), f"looking up project {project}"
        )
        if found is None:
            raise NotFound(f"project {project} does not exist in cloud {self.name}")
        conn = self._call(
            lambda: self._conn.connect_as_project({"id": found.id, "name": found.name}),
            f"scoping a connection to project {project} (does our user hold a role there?)",
        )
        return ProjectBackups(conn, found.id, found.name, self._conn, self.name)

    def scratch_project(self, name: str) -> ProjectBackups:
        """A new project ``name`` with our user as member and a network, to restore into (a drill);
        :meth:`remove_project` removes it."""
        conn = self._conn

        def make() -> None:
            project = conn.identity.create_project(
                name=name, domain_id="default", description="govcloud: scratch project of a restore drill"
            )
            conn.identity.assign_project_role_to_user(project, conn.current_user_id, conn.identity.find_role("member"))
            # the drill's restores (a whole environment's volumes) are limited by their source, not here
            conn.block_storage.update_quota_set(project.id, volumes=-1, gigabytes=-1, snapshots=-1)
            scoped = conn.connect_as_project(project)
            net = scoped.network.create_network(name=f"{name}-net")
            scoped.network.create_subnet(network_id=net.id, ip_version=4, cidr="172.16.0.0/24", name=f"{name}-subnet")

        self._call(make, f"creating scratch project {name}")
        return self.backups(name)

    def archive_project(self, name: str) -> ProjectBackups:
        """The provider's archive project ``name`` (final backups of terminated applications, Art.
        16): created when missing, tagged ``govcloud:purpose=backup-archive``, our user a member."""
        return self._provider_project(name, ARCHIVE_TAG, "govcloud: final backups of terminated applications (Art. 16)")

    def offsite_project(self, name: str, application: str) -> ProjectBackups:
        """The project ``name`` of this cloud, the backup site, holding ``application``'s offsite
        copies (Art. 30): created when missing, tagged ``govcloud:purpose=offsite-backup``."""
        return self._provider_project(name, OFFSITE_TAG, f"govcloud: offsite backup copies of {application} (Art. 30)")

    def _provider_project(self, name: str, tag: str, description: str) -> ProjectBackups:
        conn = self._conn

        def ensure() -> None:
            project = conn.identity.find_project(name, ignore_missing=True)
            if project is None:
                project = conn.identity.create_project(
                    name=name, domain_id="default", tags=[tag], description=description
                )
                # the provider's own: it holds whole volumes and copies, limited by their sources
                conn.block_storage.update_quota_set(project.id, volumes=-1, gigabytes=-1, snapshots=-1)
            conn.identity.assign_project_role_to_user(project, conn.current_user_id, conn.identity.find_role("member"))

        self._call(ensure, f"preparing project {name} in cloud {self.name}")
        return self.backups(name)

    def remove_project(self, name: str) -> bool:
        """Everything project ``name`` holds, kind by kind as reclamation deletes it, then the
        project; True when it is gone (or never was)."""
        from orchestrator.core.reclaim import ORDER

        found = self.find_project(name)
        if found is None:
            return True
        sweep = self.sweep(found)
        items = sweep.inventory()
        for kind in ORDER:
            for item in (i for i in items if i.kind == kind):
                sweep.delete(item)
        self.delete_project(found)
        return self.find_project(name) is None

    def delete_project(self, project: Found) -> None:
        """Delete the Keystone project; gone already is fine."""
        self._call(
            lambda: self._conn.identity.delete_project(project.id, ignore_missing=True),
            f"deleting project {project.name}",
        )

    def exists(self, kind: str, id: str, project_id: str) -> bool:
        """Whether the cloud still holds the ``kind`` (of :data:`~orchestrator.core.reclaim.STATE_KINDS`)
        with ``id`` of the project ``project_id``, which may be gone: looked up by id with our
        (admin) credentials. Raises :class:`ExternalError` when the cloud cannot say."""
        from openstack import exceptions

        conn = self._conn
        lookups: dict[str, Callable[[], Any]] = {
            "server": lambda: conn.compute.get_server(id),
            "volume_attachment": lambda: conn.compute.get_server(id.split("/")[0]),  # gone with its server
            "volume": lambda: conn.block_storage.get_volume(id),
            "network": lambda: conn.network.get_network(id),
            "subnet": lambda: conn.network.get_subnet(id),
            "port": lambda: conn.network.get_port(id),
            "router": lambda: conn.network.get_router(id),
            "router_interface": lambda: conn.network.get_port(id),  # its id is its port's
            "security_group": lambda: conn.network.get_security_group(id),
            "security_group_rule": lambda: conn.network.get_security_group_rule(id),
            "floating_ip": lambda: conn.network.get_ip(id),
            "container": lambda: self._account_head(project_id, id),
            "database_instance": lambda: self._trove_admin_get(id),
        }
        if kind not in lookups:
            raise ExternalError(f"cloud {self.name}: govcloud cannot look up a {kind} by id")
        try:
            lookups[kind]()
            return True
        except exceptions.NotFoundException:
            return False
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            raise ExternalError(
                f"cloud {self.name}: looking up {kind} {id} failed: {' '.join(str(exc).split())}"[:500]
            ) from exc

    def _account_head(self, project_id: str, container: str) -> None:
        """HEAD a container in the Swift account of ``project_id`` (a reseller admin may; Swift's
        keystoneauth refuses others with 403, which is then an error: we cannot say)."""
        from openstack import exceptions

        endpoint = self._conn.object_store.get_endpoint()
        account = endpoint.rstrip("/").rsplit("/", 1)[0] + f"/AUTH_{project_id}"
        response = self._conn.object_store.head(f"{account}/{container}")
        if response.status_code == 404:
            raise exceptions.NotFoundException(f"container {container}")
        if response.status_code in (401, 403):
            raise ExternalError(
                f"Swift refused to read the account of project {project_id} ({response.status_code}): "
                "a container of a project that is gone can be verified only by a reseller admin; "
                "give the reclaiming user Swift's reseller admin role (ResellerAdmin) on its project"
            )
        exceptions.raise_from_response(response)

    def _trove_admin_get(self, id: str) -> None:
        """Trove's admin view of one instance (``/mgmt/instances/{id}``), any project's."""
        from keystoneauth1 import exceptions as ksa
        from openstack import exceptions

        endpoint = self._conn.session.get_endpoint(service_type="database", interface="public")
        try:
            self._conn.session.get(f"{endpoint}/mgmt/instances/{id}", raise_exc=True)
        except ksa.NotFound as exc:
            raise exceptions.NotFoundException(f"database instance {id}") from exc

    # --- role assignments on a project (Art. 36) ------------------------------------------------

    @property
    def user_id(self) -> str | None:
        """The user our credentials authenticate as (the one that provisions and reclaims)."""
        return self._conn.current_user_id

    def role_assignments(self, project_id: str) -> list[Assignment]:
        """Every role assignment on the project (Keystone ``scope.project.id``), with names."""
        found = self._call(
            lambda: list(self._conn.identity.role_assignments(scope_project_id=project_id, include_names=True)),
            f"listing the role assignments on project {project_id}",
        )
        out = []
        for a in found:
            actor = "group" if a.group else "user"
            who, role, scope = (a.group or a.user or {}), a.role or {}, a.scope or {}
            out.append(
                Assignment(
                    project_id,
                    role.get("id", ""),
                    role.get("name", ""),
                    actor,
                    who.get("id", ""),
                    who.get("name", ""),
                    inherited="OS-INHERIT:inherited_to" in scope,
                )
            )
        return out

    def delete_role_assignment(self, assignment: Assignment) -> None:
        """Remove one role assignment; gone already (or its project, role or actor gone) is fine."""
        a = assignment
        path = f"/projects/{a.project_id}/{a.actor}s/{a.actor_id}/roles/{a.role_id}"
        if a.inherited:
            path = f"/OS-INHERIT{path}/inherited_to_projects"
        doing = f"removing {a.name} on project {a.project_id}"
        response = self._call(lambda: self._conn.identity.delete(path), doing)
        if response.status_code not in (204, 404):  # the proxy does not raise on an error status here
            answer = " ".join(str(response.text).split())[:300]
            raise ExternalError(f"cloud {self.name}: {doing} failed: {response.status_code} {answer}")

    # --- one stack against its plan, and Trove resizes (issue 25) ------------------------------

    def plan_differences(self, plan: Any) -> list[str]:
        """Every difference between a stack's plan (``govcloud plan``'s resources) and the cloud,
        one line each (:mod:`orchestrator.adapters.cloud.plancheck`); empty when they agree."""
        from orchestrator.adapters.cloud import plancheck

        return self._call(lambda: plancheck.differences(plan, self._conn), f"comparing {plan.stack} with its plan")

    def resize_database(
        self,
        project: str,
        name: str,
        flavor: str | None = None,
        size: int | None = None,
        timeout: float = 1800,
        interval: float = 10,
    ) -> dict[str, Any]:
        """Resize Trove instance ``name`` of ``project`` in place through Trove's API, keeping its
        data (the provider would replace it): to ``flavor`` (a flavor name), then its volume to
        ``size`` GB. Each step waits until the instance is ACTIVE again and then checks that it
        has the new flavor or size: Trove ends a failed resize (Nova refused it, the guest did not
        come back) ACTIVE with the old one, saying nothing. Returns what was resized (nothing when
        the instance is that size already). Trove refuses to shrink a volume.

        ``timeout`` bounds each step: Trove gives up on Nova after its ``resize_time_out`` (15
        min by default) and reverts within ``revert_time_out`` (10 min); an instance still
        resizing after that has lost its task (Trove leaves it so when the guest fails before
        Nova is called) and needs an operator. Trove is polled after 1 s, then ever less often, up to
        every ``interval`` seconds."""
        import time

        found = self._call(lambda: self._conn.identity.find_project(project, domain_id="default"), f"finding {project}")
        if found is None:
            raise NotFound(f"project {project} does not exist in cloud {self.name}")
        conn = self._call(lambda: self._conn.connect_as_project(found), f"scoping to {project}")
        endpoint = self._call(lambda: conn.endpoint_for("database"), "finding the database service")
        trove = conn.session

        def instance() -> dict[str, Any]:
            listed = trove.get(f"{endpoint}/instances", endpoint_filter=None).json()["instances"]
            real = next((i for i in listed if i["name"] == name), None)
            if real is None:
                raise NotFound(f"database instance {name} does not exist in project {project}")
            return trove.get(f"{endpoint}/instances/{real['id']}", endpoint_filter=None).json()["instance"]

        def resize(body: dict[str, Any], what: str, has: Callable[[dict[str, Any]], Any], wanted: Any) -> None:
            real = self._call(instance, f"reading database instance {name}")
            if real["status"] != "ACTIVE":
                raise ExternalError(
                    f"cloud {self.name}: database instance {name} is {real['status']}, not ACTIVE: "
                    f"Trove resizes only an ACTIVE instance; nothing was resized {what}"
                )
            self._call(
                lambda: trove.post(
                    f"{endpoint}/instances/{real['id']}/action", json={"resize": body}, endpoint_filter=None
                ),
                f"resizing database instance {name} {what}",
            )
            started, delay = time.monotonic(), min(interval, 1.0)
            time.sleep(delay)
            while True:
                real = self._call(instance, f"reading database instance {name}")
                if real["status"] == "ACTIVE":
                    break
                waited = time.monotonic() - started
                if real["status"] in ("ERROR", "FAILED") or waited > timeout:
                    raise ExternalError(
                        f"cloud {self.name}: database instance {name} is {real['status']} {waited:.0f} s after "
                        f"resizing {what}; Trove keeps its data (see the instance's fault and trove-taskmanager's "
                        "log; an instance left in RESIZE needs an operator's reset-status)"
                    )
                delay = min(delay * 1.5, interval)  # a quick resize is seen quickly, a slow one polled gently
                time.sleep(delay)
            if has(real) != wanted:
                raise ExternalError(
                    f"cloud {self.name}: Trove ended resizing database instance {name} {what} ACTIVE but unchanged "
                    f"({has(real)}): the resize failed and was reverted, its data kept (trove-taskmanager's log "
                    "says why: Nova refused the new flavor, or the volume could not be extended)"
                )

        done: dict[str, Any] = {}
        real = self._call(instance, f"reading database instance {name}")
        if flavor:
            target = self._call(
                lambda: self._conn.compute.find_flavor(flavor, ignore_missing=False), f"finding flavor {flavor}"
            )
            if real["flavor"]["id"] != target.id:
                resize({"flavorRef": target.id}, f"to flavor {flavor}", lambda i: i["flavor"]["id"], target.id)
                done["flavor"] = flavor
        if size and real["volume"]["size"] != size:
            resize({"volume": {"size": size}}, f"to {size} GB", lambda i: i["volume"]["size"], size)
            done["size"] = size
        return done

    # --- security-group rules (cloud drift) --------------------------------------------------

    def security_group_rules(self, group_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The rules Neutron holds in each of the groups ``group_ids`` (id, direction, ethertype,
        protocol, ports, remote), by group id."""
        found: dict[str, list[dict[str, Any]]] = {}
        for group in group_ids:
            rules = self._call(
                lambda g=group: list(self._conn.network.security_group_rules(security_group_id=g)),
                f"listing the rules of security group {group}",
            )
            found[group] = [
                {
                    "id": r.id,
                    "direction": r.direction,
                    "ethertype": r.ether_type,
                    "protocol": r.protocol,
                    "portRangeMin": r.port_range_min,
                    "portRangeMax": r.port_range_max,
                    "remoteIpPrefix": r.remote_ip_prefix,
                    "remoteGroupId": r.remote_group_id,
                }
                for r in rules
            ]
        return found

    def delete_security_group_rule(self, rule_id: str) -> None:
        """Delete one rule (gone already is fine)."""
        self._call(
            lambda: self._conn.network.delete_security_group_rule(rule_id, ignore_missing=True),
            f"deleting security group rule {rule_id}",
        )

    def _call(self, call: Callable[..., T], doing: str) -> T:
        """``call()``, with any cloud error converted to :class:`ExternalError` naming ``doing``.
        (``Callable[...]``: a lambda in a loop binds the loop variable as a default argument.)"""
        try:
            return call()
        except Exception as exc:  # openstacksdk, keystoneauth and socket errors alike
            raise ExternalError(f"cloud {self.name}: {doing} failed: {' '.join(str(exc).split())}"[:500]) from exc

    # --- errors, converted once ----------------------------------------------------------------

    def _attempt(self, call: Callable[..., T]) -> tuple[T | None, str | None]:
        """``(call(), None)``, or ``(None, reason)`` when the cloud fails: the figure is unknown (as
        :meth:`_call`, ``call`` may bind loop variables as default arguments)."""
        try:
            return call(), None
        except Exception as exc:  # noqa: BLE001 (openstacksdk, keystoneauth and socket errors alike)
            return None, f"cloud {self.name}: {_reason(exc, None)}"


def _reason(exc: Exception, conn: Any) -> str:
    """The cause of a failed connection, in a few words."""
    from keystoneauth1 import exceptions as ksa

    url = None
    try:
        url = conn.config.get_auth_args().get("auth_url") if conn is not None else None
    except Exception:  # noqa: BLE001 (a half-built connection: no URL to name)
        url = None
    where = url or "the identity service"
    cause: BaseException | None = exc
    while cause is not None:  # openstacksdk re-raises keystoneauth errors as SDKException
        if isinstance(cause, ksa.ConnectTimeout):
            return f"no answer from {where} (timed out)"
        if isinstance(cause, ksa.ConnectFailure):
            return f"no answer from {where} (connection refused or unreachable)"
        if isinstance(cause, ksa.Unauthorized):
            return f"{where} refused the credentials"
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _number(value: Any) -> float | None:
    """Cinder reports ``"infinite"`` or ``"unknown"`` for some back ends: those are unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class _LazyCloud:
    """:meth:`Cloud.lazy`: connects at the first attribute asked of it."""

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._cloud: Cloud | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._cloud is None:
            self._cloud = Cloud.connect(self._name)
        return getattr(self._cloud, attr)
