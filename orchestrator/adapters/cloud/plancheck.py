"""Compare what a stack's plan says with what the cloud really has, through openstacksdk
(``govcloud verify``, and ``up`` before it records ``provisioned``; the end-to-end tests too).

``differences(plan, admin)`` (``admin``: an openstacksdk connection with cloud-admin rights)
walks every planned resource of one stack (``govcloud plan``'s resources: type, logical name,
input properties), finds the real resource by its name in the
environment's project and returns one line per difference, so that a failing test lists all of
them. It also reports resources in the project that the plan does not have ("extra"): a stack
must create what the manifest asks for and nothing else (Art. 14).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core import naming
from orchestrator.core.stackplan import PlannedResource, StackPlan
from orchestrator.errors import ExternalError

#: Plan values of data-source lookups under the mock runtime: ``mock-getRole-member-id``.
MOCK_ID = re.compile(r"^mock-get(?P<kind>[A-Za-z]+)-(?P<name>.+)-id$")
#: The rules Neutron gives every new security group (kept unless ``deleteDefaultRules``).
DEFAULT_EGRESS = {("egress", "IPv4", None, None, None, None, None), ("egress", "IPv6", None, None, None, None, None)}
#: Types that exist only in Pulumi (components, providers) or have no cloud object to look at.
NOT_IN_CLOUD = ("govcloud:", "pulumi:providers:", "random:", "keycloak:")


def looked_up(value: str) -> str:
    """``mock-getRole-member-id`` -> ``member``: the name the program looked up."""
    match = MOCK_ID.match(value)
    return match["name"] if match else value


def planned_ref(value: str) -> str:
    """``citizen-portal-net-id`` (the mock id of a planned resource) -> ``citizen-portal-net``."""
    return value.removesuffix("-id")


@dataclass
class Check:
    """The state of one stack's check: the plan, the cloud's objects by name, the differences."""

    plan: StackPlan
    admin: Any
    problems: list[str] = field(default_factory=list)
    project: Any = None
    conn: Any = None
    """A connection scoped to the environment's project (Swift and server details need it)."""
    by_name: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    """Real resources found, by kind then name (``servers``, ``volumes``, ...)."""

    def expect(self, what: str, actual: Any, planned: Any) -> None:
        if actual != planned:
            self.problems.append(f"{what}: cloud has {actual!r}, plan says {planned!r}")

    def resources(self, type_: str) -> Iterator[PlannedResource]:
        return (r for r in self.plan.resources if r.type == type_)

    def name_of(self, ref: str) -> str:
        """The cloud name of the planned resource whose mock id is ``ref`` (ports are named after
        their server, not after their logical name)."""
        logical = planned_ref(ref)
        planned = next((r for r in self.plan.resources if r.name == logical), None)
        return planned.properties.get("name", logical) if planned else logical


def differences(plan: StackPlan, admin: Any) -> list[str]:
    """Every difference between ``plan`` and the cloud (empty when they agree)."""
    check = opened(plan, admin)
    if check.project is None:
        return check.problems
    for resource in plan.resources:
        if resource.type.startswith(NOT_IN_CLOUD):
            continue
        checker = CHECKERS.get(resource.type)
        if checker is None:
            check.problems.append(f"{resource.type} {resource.name}: no check written for this type")
            continue
        checker(check, resource)
    check.problems += extras(check)
    return check.problems


def opened(plan: StackPlan, admin: Any) -> Check:
    """A check of ``plan`` with its project found, a connection scoped to it and its inventory
    (``project`` is ``None``, with the problem said, when the project does not exist)."""
    check = Check(plan, admin)
    [project] = list(check.resources("openstack:identity/project:Project"))
    check.project = admin.identity.find_project(project.name, domain_id="default")
    if check.project is None:
        check.problems.append(f"project {project.name} does not exist")
        return check
    check.conn = admin.connect_as_project(check.project)
    check.by_name = inventory(check)
    return check


def inventory(check: Check) -> dict[str, dict[str, Any]]:
    """The project's resources by kind and name."""
    admin, conn, pid = check.admin, check.conn, check.project.id
    found: dict[str, dict[str, Any]] = {
        "networks": {n.name: n for n in admin.network.networks(project_id=pid)},
        "subnets": {s.name: s for s in admin.network.subnets(project_id=pid)},
        "routers": {r.name: r for r in admin.network.routers(project_id=pid)},
        "security_groups": {g.name: g for g in admin.network.security_groups(project_id=pid)},
        "ports": {p.name: p for p in admin.network.ports(project_id=pid) if p.name},
        "floating_ips": {f.description: f for f in admin.network.ips(project_id=pid)},
        "servers": {s.name: s for s in conn.compute.servers(details=True)},
        "volumes": {v.name: v for v in conn.block_storage.volumes(details=True)},
        "containers": {c.name: c for c in conn.object_store.containers()},
    }
    return found


def _named(check: Check, kind: str, resource: PlannedResource) -> Any:
    name = resource.properties.get("name", resource.name)
    real = check.by_name[kind].get(name)
    if real is None:
        check.problems.append(f"{resource.type} {name}: not found in project {check.project.name}")
    return real


#: The tag a Neutron resource keeps from its creation: the pinned provider (pulumi-openstack 5.5.3,
#: terraform-provider-openstack v3.4.0) computes an update's tags from ``all_tags`` as read at
#: creation, so the first digest stays beside the current one after a second change (seen on the
#: local cloud: tags d1, d2, d3, d4 in turn left ``digest=d1`` and ``digest=d4``).
STALE_DIGEST = f"{naming.TAG_PREFIX}digest="


def _tags(check: Check, what: str, real: Any, resource: PlannedResource) -> None:
    """Tags as planned; an extra, older ``govcloud:digest=`` tag (the provider's, above) is
    tolerated, since everything else still finds the resource by its other labels."""
    planned = sorted(resource.properties.get("tags", []))
    actual = sorted(t for t in real.tags or [] if t in planned or not t.startswith(STALE_DIGEST))
    check.expect(f"{what} tags", actual, planned)


def check_project(check: Check, r: PlannedResource) -> None:
    p = check.project
    check.expect(f"project {r.name} tags", sorted(p.tags or []), sorted(r.properties["tags"]))
    check.expect(f"project {r.name} enabled", p.is_enabled, r.properties.get("enabled", True))
    check.expect(f"project {r.name} description", p.description, r.properties.get("description"))


def _quota(check: Check, r: PlannedResource, actual: Any, keys: dict[str, str]) -> None:
    for planned_key, cloud_key in keys.items():
        if planned_key in r.properties:
            check.expect(f"{r.name} {planned_key}", getattr(actual, cloud_key), r.properties[planned_key])


def check_compute_quota(check: Check, r: PlannedResource) -> None:
    _quota(
        check,
        r,
        check.admin.compute.get_quota_set(check.project.id),
        {"cores": "cores", "ram": "ram", "instances": "instances"},
    )


def check_volume_quota(check: Check, r: PlannedResource) -> None:
    _quota(
        check,
        r,
        check.admin.block_storage.get_quota_set(check.project.id),
        {"volumes": "volumes", "gigabytes": "gigabytes", "snapshots": "snapshots"},
    )


def check_network_quota(check: Check, r: PlannedResource) -> None:
    _quota(
        check,
        r,
        check.admin.network.get_quota(check.project.id),
        {
            "network": "networks",
            "subnet": "subnets",
            "router": "routers",
            "port": "ports",
            "floatingip": "floating_ips",
            "securityGroup": "security_groups",
            "securityGroupRule": "security_group_rules",
        },
    )


def check_role_assignment(check: Check, r: PlannedResource) -> None:
    admin, props = check.admin, r.properties
    role = admin.identity.find_role(looked_up(props["roleId"]))
    if "groupId" in props:
        group = admin.identity.find_group(looked_up(props["groupId"]), domain_id="default")
        who = {"group_id": group.id if group else None}
    else:
        who = {"user_id": admin.current_user_id}
    assignments = list(admin.identity.role_assignments(scope_project_id=check.project.id, role_id=role.id, **who))
    check.expect(f"role assignment {r.name}", len(assignments), 1)


def check_network(check: Check, r: PlannedResource) -> None:
    if (net := _named(check, "networks", r)) is not None:
        _tags(check, f"network {net.name}", net, r)
        check.expect(f"network {net.name} admin state", net.is_admin_state_up, r.properties.get("adminStateUp", True))


def check_subnet(check: Check, r: PlannedResource) -> None:
    if (subnet := _named(check, "subnets", r)) is not None:
        _tags(check, f"subnet {subnet.name}", subnet, r)
        check.expect(f"subnet {subnet.name} cidr", subnet.cidr, r.properties["cidr"])
        network = check.by_name["networks"].get(check.name_of(r.properties["networkId"]))
        check.expect(f"subnet {subnet.name} network", subnet.network_id, network.id if network else None)


def check_router(check: Check, r: PlannedResource) -> None:
    if (router := _named(check, "routers", r)) is not None:
        _tags(check, f"router {router.name}", router, r)
        external = check.admin.network.find_network(looked_up(r.properties["externalNetworkId"]))
        gateway = (router.external_gateway_info or {}).get("network_id")
        check.expect(f"router {router.name} gateway", gateway, external.id if external else None)


def check_router_interface(check: Check, r: PlannedResource) -> None:
    router = check.by_name["routers"].get(check.name_of(r.properties["routerId"]))
    subnet = check.by_name["subnets"].get(check.name_of(r.properties["subnetId"]))
    if router is None or subnet is None:
        check.problems.append(f"router interface {r.name}: router or subnet missing")
        return
    ports = check.admin.network.ports(device_id=router.id, device_owner="network:router_interface")
    subnets = {ip["subnet_id"] for port in ports for ip in port.fixed_ips}
    check.expect(f"router interface {r.name} on {subnet.name}", subnet.id in subnets, True)


def _rule_key(rule: Any) -> tuple:
    return (
        rule.direction,
        rule.ether_type,
        rule.protocol,
        rule.port_range_min,
        rule.port_range_max,
        rule.remote_ip_prefix,
        rule.remote_group_id,
    )


def check_security_group(check: Check, r: PlannedResource) -> None:
    group = _named(check, "security_groups", r)
    if group is None:
        return
    _tags(check, f"security group {group.name}", group, r)
    check.expect(
        f"security group {group.name} description", group.description or "", r.properties.get("description", "")
    )
    groups = {name: g.id for name, g in check.by_name["security_groups"].items()}
    planned = set() if r.properties.get("deleteDefaultRules") else set(DEFAULT_EGRESS)
    for rule in check.resources("openstack:networking/secGroupRule:SecGroupRule"):
        p = rule.properties
        if planned_ref(p["securityGroupId"]) != r.name:
            continue
        remote_group = groups.get(check.name_of(p["remoteGroupId"])) if p.get("remoteGroupId") else None
        planned.add(
            (
                p["direction"],
                p["ethertype"],
                p.get("protocol"),
                p.get("portRangeMin"),
                p.get("portRangeMax"),
                p.get("remoteIpPrefix"),
                remote_group,
            )
        )
    actual = {_rule_key(rule) for rule in check.admin.network.security_group_rules(security_group_id=group.id)}
    check.expect(f"security group {group.name} rules", sorted(actual, key=str), sorted(planned, key=str))


def check_rule(check: Check, r: PlannedResource) -> None:
    """Rules are compared as a whole, per group, in :func:`check_security_group`."""


def check_port(check: Check, r: PlannedResource) -> None:
    if (port := _named(check, "ports", r)) is None:
        return
    _tags(check, f"port {port.name}", port, r)
    groups = {g.id: name for name, g in check.by_name["security_groups"].items()}
    check.expect(
        f"port {port.name} security groups",
        sorted(groups.get(g, g) for g in port.security_group_ids),
        sorted(check.name_of(g) for g in r.properties.get("securityGroupIds", [])),
    )


def check_floating_ip(check: Check, r: PlannedResource) -> None:
    ip = check.by_name["floating_ips"].get(r.properties.get("description") or "")
    if ip is None:
        check.problems.append(f"floating IP {r.name}: not found")
        return
    _tags(check, f"floating IP {r.name}", ip, r)
    port = check.by_name["ports"].get(check.name_of(r.properties["portId"]))
    check.expect(f"floating IP {r.name} port", ip.port_id, port.id if port else None)


def check_server(check: Check, r: PlannedResource) -> None:
    if (server := _named(check, "servers", r)) is None:
        return
    p = r.properties
    check.expect(
        f"server {server.name} status", server.status, "SHUTOFF" if p.get("powerState") == "shutoff" else "ACTIVE"
    )
    check.expect(
        f"server {server.name} flavor", server.flavor.get("original_name") or server.flavor.get("name"), p["flavorName"]
    )
    image = check.admin.image.get_image(server.image["id"]) if server.image else None
    check.expect(f"server {server.name} image", image.name if image else None, p.get("imageName"))
    labels = {k: v for k, v in (server.metadata or {}).items() if k.startswith(naming.TAG_PREFIX)}
    check.expect(f"server {server.name} labels", labels, p["metadata"])
    check.expect(f"server {server.name} key pair", server.key_name, p.get("keyPair"))
    ports = {check.name_of(n["port"]) for n in p.get("networks", []) if "port" in n}
    actual = {port.name for port in check.admin.network.ports(device_id=server.id)}
    check.expect(f"server {server.name} ports", sorted(actual), sorted(ports))


def check_volume(check: Check, r: PlannedResource) -> None:
    if (volume := _named(check, "volumes", r)) is None:
        return
    p = r.properties
    check.expect(f"volume {volume.name} size", volume.size, p["size"])
    labels = {k: v for k, v in (volume.metadata or {}).items() if k.startswith(naming.TAG_PREFIX)}
    check.expect(f"volume {volume.name} labels", labels, p["metadata"])
    if "volumeType" in p:
        check.expect(f"volume {volume.name} type", volume.volume_type, p["volumeType"])


def check_volume_attach(check: Check, r: PlannedResource) -> None:
    volume = check.by_name["volumes"].get(check.name_of(r.properties["volumeId"]))
    server = check.by_name["servers"].get(check.name_of(r.properties["instanceId"]))
    if volume is None or server is None:
        check.problems.append(f"attachment {r.name}: volume or server missing")
        return
    attached_to = [a["server_id"] for a in volume.attachments or []]
    check.expect(f"volume {volume.name} attached to", attached_to, [server.id])


def check_container(check: Check, r: PlannedResource) -> None:
    if _named(check, "containers", r) is None:
        return
    name = r.properties["name"]
    container = check.conn.object_store.get_container_metadata(name)
    meta = {k.lower(): v for k, v in (container.metadata or {}).items()}
    for key, value in r.properties.get("metadata", {}).items():
        check.expect(f"container {name} metadata {key}", meta.get(key.lower()), value)
    check.expect(f"container {name} read ACL", container.read_ACL or None, r.properties.get("containerRead"))


def check_database(check: Check, r: PlannedResource) -> None:
    """Trove instances live in Trove's service project; looked up through its REST API."""
    trove = check.conn.session
    endpoint = check.conn.endpoint_for("database")
    instances = trove.get(f"{endpoint}/instances", endpoint_filter=None).json()["instances"]
    real = next((i for i in instances if i["name"] == r.properties["name"]), None)
    if real is None:
        check.problems.append(f"database instance {r.properties['name']}: not found in Trove")
        return
    check.expect(f"database {real['name']} status", real["status"], "ACTIVE")
    check.expect(f"database {real['name']} size", real["volume"]["size"], r.properties["size"])
    flavor = check.admin.compute.find_flavor(looked_up(r.properties["flavorId"]), ignore_missing=True)
    check.expect(f"database {real['name']} flavor", real["flavor"]["id"], flavor.id if flavor else None)
    datastore = r.properties["datastore"]
    check.expect(
        f"database {real['name']} datastore",
        (real["datastore"]["type"], real["datastore"]["version"]),
        (datastore["type"], datastore["version"]),
    )
    databases = trove.get(f"{endpoint}/instances/{real['id']}/databases").json()["databases"]
    check.expect(
        f"database {real['name']} databases",
        sorted(d["name"] for d in databases),
        sorted(d["name"] for d in r.properties.get("databases", [])),
    )


CHECKERS: dict[str, Callable[[Check, PlannedResource], None]] = {
    "openstack:identity/project:Project": check_project,
    "openstack:compute/quotaSetV2:QuotaSetV2": check_compute_quota,
    "openstack:blockstorage/quoteSetV3:QuoteSetV3": check_volume_quota,
    "openstack:networking/quotaV2:QuotaV2": check_network_quota,
    "openstack:identity/roleAssignment:RoleAssignment": check_role_assignment,
    "openstack:networking/network:Network": check_network,
    "openstack:networking/subnet:Subnet": check_subnet,
    "openstack:networking/router:Router": check_router,
    "openstack:networking/routerInterface:RouterInterface": check_router_interface,
    "openstack:networking/secGroup:SecGroup": check_security_group,
    "openstack:networking/secGroupRule:SecGroupRule": check_rule,
    "openstack:networking/port:Port": check_port,
    "openstack:networking/floatingIp:FloatingIp": check_floating_ip,
    "openstack:compute/instance:Instance": check_server,
    "openstack:blockstorage/volume:Volume": check_volume,
    "openstack:compute/volumeAttach:VolumeAttach": check_volume_attach,
    "openstack:objectstorage/container:Container": check_container,
    "openstack:database/instance:Instance": check_database,
}

#: Planned type -> the inventory kind it appears under, for the "extra resources" check.
KINDS = {
    "openstack:networking/network:Network": "networks",
    "openstack:networking/subnet:Subnet": "subnets",
    "openstack:networking/router:Router": "routers",
    "openstack:networking/secGroup:SecGroup": "security_groups",
    "openstack:networking/port:Port": "ports",
    "openstack:compute/instance:Instance": "servers",
    "openstack:blockstorage/volume:Volume": "volumes",
    "openstack:objectstorage/container:Container": "containers",
}
#: What the cloud creates by itself in every project.
IMPLICIT = {"security_groups": {"default"}}


def extras(check: Check) -> list[str]:
    """Resources in the project that no planned resource accounts for."""
    planned: dict[str, set[str]] = defaultdict(set)
    for r in check.plan.resources:
        if r.type in KINDS:
            planned[KINDS[r.type]].add(r.properties.get("name", r.name))
    problems = []
    for kind in KINDS.values():
        extra = set(check.by_name[kind]) - planned[kind] - IMPLICIT.get(kind, set())
        if extra:
            problems.append(f"{kind} not in the plan: {sorted(extra)}")
    return problems


def _opened_or_raise(plan: StackPlan, admin: Any) -> Check:
    """:func:`opened`, or :class:`ExternalError` with its problems when the stack's project is not there."""
    check = opened(plan, admin)
    if check.project is None:
        raise ExternalError(f"{plan.stack}: {'; '.join(check.problems)}")
    return check


def ids(plan: StackPlan, admin: Any) -> dict[str, str]:
    """Planned name -> the real resource's id, for every kind of :data:`KINDS` (to spot replacements)."""
    check = _opened_or_raise(plan, admin)
    return {
        f"{kind}/{name}": getattr(obj, "id", name)
        for kind in KINDS.values()
        for name, obj in check.by_name[kind].items()
    }


def database_ids(plan: StackPlan, admin: Any) -> dict[str, str]:
    """``databases/<name>`` -> the Trove instance's id, for the environment's planned databases."""
    check = _opened_or_raise(plan, admin)
    endpoint = check.conn.endpoint_for("database")
    instances = check.conn.session.get(f"{endpoint}/instances", endpoint_filter=None).json()["instances"]
    names = {r.properties["name"] for r in check.resources("openstack:database/instance:Instance")}
    return {f"databases/{i['name']}": i["id"] for i in instances if i["name"] in names}


def _trove_instance(admin: Any, id: str) -> Any:
    """The Trove instance ``id`` of any project, not deleted (Trove's admin API lists them all)."""
    endpoint = admin.endpoint_for("database")
    listed = admin.session.get(f"{endpoint}/mgmt/instances?deleted=false", endpoint_filter=None).json()["instances"]
    return next((i for i in listed if i["id"] == id), None)


#: Kind -> the look-up of one resource by id in any project (``None`` when gone).
FIND_BY_ID: dict[str, Callable[[Any, str], Any]] = {
    "networks": lambda admin, id: admin.network.find_network(id, ignore_missing=True),
    "subnets": lambda admin, id: admin.network.find_subnet(id, ignore_missing=True),
    "routers": lambda admin, id: admin.network.find_router(id, ignore_missing=True),
    "security_groups": lambda admin, id: admin.network.find_security_group(id, ignore_missing=True),
    "ports": lambda admin, id: admin.network.find_port(id, ignore_missing=True),
    "servers": lambda admin, id: admin.compute.find_server(id, ignore_missing=True, all_projects=True),
    "volumes": lambda admin, id: admin.block_storage.find_volume(id, ignore_missing=True, all_projects=True),
    "databases": _trove_instance,
}


def remaining(before: dict[str, str], plan: StackPlan, admin: Any) -> list[str]:
    """Of the resources found before an environment was removed (:func:`ids`, :func:`database_ids`),
    those the cloud still has, by id in any project, and the project itself. Containers are named,
    not numbered: they went with the project's account, which the removal emptied first."""
    [project] = list(Check(plan, admin).resources("openstack:identity/project:Project"))
    left = [f"project {project.name}"] if admin.identity.find_project(project.name, domain_id="default") else []
    for key, id in before.items():
        kind = key.split("/", 1)[0]
        if kind in FIND_BY_ID and FIND_BY_ID[kind](admin, id) is not None:
            left.append(f"{key} ({id})")
    return left
