"""What an environment asks for: flavor sizes, totals, the project quotas and the subnet.

Pure functions over :class:`~orchestrator.core.manifest.Resources`, shared by the Pulumi program
(quota sets, subnet), ``govcloud plan`` (totals) and the quota policy.

Totals count everything the environment requests from the cloud, database instances included.
Project quotas count what lives in the environment's own Keystone project: Trove creates its
instances and volumes in its service project, so databases are not in the project's quotas.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import asdict, dataclass

from orchestrator.core.manifest import Environment, Resources, Rule, SecurityGroup
from orchestrator.errors import RuleError


@dataclass(frozen=True)
class Flavor:
    """A compute flavor's size."""

    vcpu: int
    ram_gb: int


#: Flavors offered by the government cloud. Names follow ``g.<vcpu>c<ram GB>g``.
FLAVORS: dict[str, Flavor] = {
    "g.1c1g": Flavor(1, 1),
    "g.1c2g": Flavor(1, 2),
    "g.2c4g": Flavor(2, 4),
    "g.2c8g": Flavor(2, 8),
    "g.4c8g": Flavor(4, 8),
    "g.4c16g": Flavor(4, 16),
    "g.8c16g": Flavor(8, 16),
    "g.8c32g": Flavor(8, 32),
    "g.16c32g": Flavor(16, 32),
    "g.16c64g": Flavor(16, 64),
}

_CONVENTION = re.compile(r"^g\.([1-9][0-9]{0,2})c([1-9][0-9]{0,3})g$")


class UnknownFlavor(RuleError):
    """A flavor name is neither in the flavor table nor of the form ``g.<vcpu>c<ram>g``."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown flavor {name!r}: use one of {', '.join(FLAVORS)} "
            "or a name of the form g.<vCPU>c<RAM GB>g such as g.2c4g",
            rule="flavor-known",
        )
        self.name = name


def flavor(name: str) -> Flavor:
    """The size of flavor ``name``: from the table, else parsed from ``g.<vcpu>c<ram>g``."""
    if name in FLAVORS:
        return FLAVORS[name]
    match = _CONVENTION.match(name)
    if not match:
        raise UnknownFlavor(name)
    return Flavor(int(match[1]), int(match[2]))


def is_known_flavor(name: str) -> bool:
    return name in FLAVORS or bool(_CONVENTION.match(name))


@dataclass(frozen=True)
class Totals:
    """What one environment requests from the cloud."""

    vcpu: int
    ram_gb: int
    volume_gb: int
    object_gb: int
    servers: int
    database_instances: int
    public_ips: int
    world_open_rules: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def totals(resources: Resources) -> Totals:
    """Servers and database instances with their flavors, all block and object storage."""
    servers = sum(s.count for s in resources.servers)
    vcpu = sum(flavor(s.flavor).vcpu * s.count for s in resources.servers)
    ram = sum(flavor(s.flavor).ram_gb * s.count for s in resources.servers)
    vcpu += sum(flavor(d.flavor).vcpu for d in resources.databases)
    ram += sum(flavor(d.flavor).ram_gb for d in resources.databases)
    return Totals(
        vcpu=vcpu,
        ram_gb=ram,
        volume_gb=project_volume_gb(resources) + sum(d.size_gb for d in resources.databases),
        object_gb=sum(c.size_gb for c in resources.containers),
        servers=servers,
        database_instances=len(resources.databases),
        public_ips=sum(s.count for s in resources.servers if s.public_ip),
        world_open_rules=sum(1 for g in resources.security_groups for r in g.rules if is_world_open(r)),
    )


def is_world_open(rule: Rule) -> bool:
    """An ingress rule reachable from any address (``0.0.0.0/0`` or ``::/0``)."""
    return rule.direction == "ingress" and rule.is_open_to_world


def project_volume_gb(resources: Resources) -> int:
    """Cinder gigabytes in the project: server data volumes and standalone volumes."""
    data = sum(v.size_gb * s.count for s in resources.servers for v in s.volumes)
    return data + sum(v.size_gb for v in resources.volumes)


def project_volume_count(resources: Resources) -> int:
    return sum(len(s.volumes) * s.count for s in resources.servers) + len(resources.volumes)


def keeps_default_egress(group: SecurityGroup) -> bool:
    """A group keeps Neutron's default egress rules unless it declares egress rules itself."""
    return not any(r.direction == "egress" for r in group.rules)


#: Rules Neutron puts in every project's ``default`` group (ingress from itself, any egress; v4+v6).
DEFAULT_GROUP_RULES = 4
#: Default egress rules of a new security group (IPv4 and IPv6).
DEFAULT_EGRESS_RULES = 2
#: Ports Neutron adds to the project beside the servers': router interface and DHCP.
INFRASTRUCTURE_PORTS = 2


@dataclass(frozen=True)
class Headroom:
    """Room for operations above what an environment runs (``headroom`` of ``quotas/policy.yaml``):
    with quotas exactly at the manifest's totals, fully used, a volume snapshot (it counts against
    the gigabytes) or an emergency security-group rule would be refused."""

    snapshot_share: float = 0.0  #: snapshot gigabytes, as a share of the project's volume gigabytes
    snapshots_per_volume: int = 0  #: volume snapshots the project may hold, per volume
    security_group_rules: int = 0  #: spare security-group rules

    def extra(self, resources: Resources) -> dict[str, int]:
        """What it adds to the project's quotas (keys as the quota APIs name them)."""
        return {
            "gigabytes": math.ceil(project_volume_gb(resources) * self.snapshot_share),
            "snapshots": project_volume_count(resources) * self.snapshots_per_volume,
            "security_group_rule": self.security_group_rules,
        }


@dataclass(frozen=True)
class Quotas:
    """The Keystone project's quota sets: what the environment needs (Art. 14) plus the
    :class:`Headroom` operations need."""

    compute: dict[str, int]
    network: dict[str, int]
    block_storage: dict[str, int]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return asdict(self)


def quotas(resources: Resources, headroom: Headroom = Headroom()) -> Quotas:
    """Compute, network and block-storage quotas of the project (keys as the quota APIs name
    them): the environment's needs plus ``headroom``."""
    extra = headroom.extra(resources)
    servers = [s for s in resources.servers]
    instances = sum(s.count for s in servers)
    groups = resources.security_groups
    rules = sum(len(g.rules) + (DEFAULT_EGRESS_RULES if keeps_default_egress(g) else 0) for g in groups)
    return Quotas(
        compute={
            "instances": instances,
            "cores": sum(flavor(s.flavor).vcpu * s.count for s in servers),
            "ram": sum(flavor(s.flavor).ram_gb * 1024 * s.count for s in servers),
        },
        network={
            "network": 1,
            "subnet": 1,
            "router": 1,
            "port": instances + INFRASTRUCTURE_PORTS,
            "floatingip": sum(s.count for s in servers if s.public_ip),
            "security_group": len(groups) + 1,
            "security_group_rule": rules + DEFAULT_GROUP_RULES + extra["security_group_rule"],
        },
        block_storage={
            "volumes": project_volume_count(resources),
            "gigabytes": project_volume_gb(resources) + extra["gigabytes"],
            "snapshots": extra["snapshots"],
        },
    )


_ENV_OCTET = {Environment.TEST: 16, Environment.TRIAL: 17, Environment.PRODUCTION: 18}
#: Addresses a subnet keeps beside the ports: network, gateway, broadcast and some headroom.
_SUBNET_RESERVE = 8


def subnet_cidr(env: Environment, ports: int) -> str:
    """The environment's private subnet: ``172.<16|17|18>.0.0`` with the smallest prefix from /24
    to /16 that holds ``ports`` addresses plus a small reserve; distinct per environment and clear
    of the management network (10.0.0.0/8)."""
    needed = ports + _SUBNET_RESERVE
    prefix = 24
    while prefix > 16 and 2 ** (32 - prefix) < needed:
        prefix -= 1
    return str(ipaddress.ip_network(f"172.{_ENV_OCTET[env]}.0.0/{prefix}"))
