"""Facts about one stack (one application environment): what the quota rules look at.

Two derivations, both here so that they cannot drift apart:

- :func:`from_application`: from a validated manifest and an environment (``govcloud quota check``,
  ``plan`` and ``up``);
- :func:`from_resources`: from Pulumi resources (type token, camelCase input properties), as the
  policy pack and ``govcloud plan`` see them. Values unknown during preview arrive as
  :data:`UNKNOWN` and are left out of sums and checks.

The application context that resources do not carry (MLPS level, backups, production data, the
production environment's size) comes in a :class:`Context` built from the manifest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from orchestrator.core import naming
from orchestrator.core.manifest import Application, Environment
from orchestrator.core.sizing import Totals, flavor, is_known_flavor, totals


class _Unknown:
    """A value Pulumi does not know during preview."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
GIB = 1024**3

# Pulumi type tokens the facts are read from.
INSTANCE = "openstack:compute/instance:Instance"
VOLUME = "openstack:blockstorage/volume:Volume"
DATABASE = "openstack:database/instance:Instance"
CONTAINER = "openstack:objectstorage/container:Container"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
SECGROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"


@dataclass(frozen=True)
class Compute:
    """A server group (``count`` instances) or a database instance and its flavor."""

    name: str
    kind: str  # "server" | "database"
    flavor: str | None  # None: unknown during preview
    count: int = 1


@dataclass(frozen=True)
class Disk:
    """A block volume: a server's data volume, a standalone volume or a database's volume."""

    name: str
    kind: str  # "server volume" | "volume" | "database volume"
    size_gb: int | None  # None: unknown during preview
    type: Any  # a volume type name, None (the cloud's default type) or UNKNOWN
    count: int = 1


@dataclass(frozen=True)
class Ingress:
    """An ingress security-group rule; ports ``None`` means every port."""

    name: str
    protocol: str  # tcp | udp | icmp | any
    port_min: int | None
    port_max: int | None
    remote_cidr: str | None
    remote_group: str | None = None


@dataclass(frozen=True)
class Holding:
    """What a unit holds in one environment of one application."""

    app: str
    env: Environment
    totals: Totals
    unit: str | None = None


@dataclass(frozen=True)
class Context:
    """What the rules need beside the resources: from the manifest, and what the unit holds.

    ``None`` means not known (a policy pack run without a manifest): rules that need it stay silent.
    """

    unit: str | None
    app: str | None
    env: Environment | None
    mlps_level: int | None = None
    backup_enabled: bool | None = None
    production_data: bool | None = None
    production: Totals | None = None
    held: tuple[Holding, ...] = ()
    database_flavors: Mapping[str, str] = field(default_factory=dict)
    """Database instance name -> flavor name (Trove instances carry a flavor id, not a name)."""


@dataclass(frozen=True)
class StackFacts:
    """Everything the rules evaluate about one stack."""

    context: Context
    computes: tuple[Compute, ...] = ()
    disks: tuple[Disk, ...] = ()
    ingress: tuple[Ingress, ...] = ()
    totals: Totals = field(default_factory=lambda: ZERO)

    @property
    def unit(self) -> str | None:
        return self.context.unit

    @property
    def env(self) -> Environment | None:
        return self.context.env


ZERO: Totals = Totals(0, 0, 0, 0, 0, 0, 0, 0)


_VALUES = attrgetter(*(f.name for f in fields(Totals)))


def add_totals(items: Iterable[Totals]) -> Totals:
    """Field-wise sum."""
    columns = list(zip(*map(_VALUES, items), strict=True))
    return Totals(*map(sum, columns)) if columns else ZERO


# --- from a manifest -------------------------------------------------------------------------


def context_of(
    app: Application, env: Environment, held: Sequence[Holding] = (), own_totals: Totals | None = None
) -> Context:
    """The manifest side of the facts; ``held`` excludes this application environment."""
    production = app.environments.get(Environment.PRODUCTION)
    spec = app.environments[env]
    own = (app.id, env)
    if production is None:
        production_totals = None
    elif env is Environment.PRODUCTION and own_totals is not None:
        production_totals = own_totals
    else:
        production_totals = totals(production.resources)
    return Context(
        unit=app.unit,
        app=app.id,
        env=env,
        mlps_level=app.mlps_level,
        backup_enabled=app.backup.enabled,
        production_data=spec.production_data,
        production=production_totals,
        held=tuple(h for h in held if (h.app, h.env) != own),
        database_flavors={naming.resource_name(app.id, d.name): d.flavor for d in spec.resources.databases},
    )


def from_application(app: Application, env: Environment, held: Sequence[Holding] = ()) -> StackFacts:
    """Facts of ``env`` of a validated application."""
    res = app.environments[env].resources
    computes = [Compute(s.name, "server", s.flavor, s.count) for s in res.servers]
    computes += [Compute(d.name, "database", d.flavor) for d in res.databases]
    disks = [
        Disk(f"{s.name}/{v.name}", "server volume", v.size_gb, v.type, s.count) for s in res.servers for v in s.volumes
    ]
    disks += [Disk(v.name, "volume", v.size_gb, v.type) for v in res.volumes]
    disks += [Disk(d.name, "database volume", d.size_gb, d.volume_type) for d in res.databases]
    names = naming.security_rule_names(app.id, res.security_groups)  # the program's, so findings agree
    ingress = [
        Ingress(
            named.name,
            r.protocol,
            r.ports.min if r.ports else None,
            r.ports.max if r.ports else None,
            r.remote_cidr,
            r.remote_group,
        )
        for g in res.security_groups
        for r, named in zip(g.rules, names[g.name], strict=True)
        if r.direction == "ingress"
    ]
    own = totals(res)
    return StackFacts(context_of(app, env, held, own), tuple(computes), tuple(disks), tuple(ingress), own)


# --- from Pulumi resources -------------------------------------------------------------------


def from_resources(resources: Iterable[Mapping[str, Any]], context: Context) -> StackFacts:
    """Facts from Pulumi resources ``{type, name, properties}`` (camelCase inputs)."""
    computes: list[Compute] = []
    disks: list[Disk] = []
    ingress: list[Ingress] = []
    object_gb = public_ips = 0
    for r in resources:
        kind, name, props = r.get("type"), str(r.get("name", "")), r.get("properties") or {}
        if kind == INSTANCE:
            computes.append(Compute(name, "server", _flavor_name(props.get("flavorName") or props.get("flavorId"))))
        elif kind == DATABASE:
            flavor_name = context.database_flavors.get(name) or _flavor_name(props.get("flavorId"))
            computes.append(Compute(name, "database", flavor_name))
            disks.append(Disk(name, "database volume", _int(props.get("size")), _str(props.get("volumeType"))))
        elif kind == VOLUME:
            disks.append(Disk(name, "volume", _int(props.get("size")), _str(props.get("volumeType"))))
        elif kind == CONTAINER:
            object_gb += _quota_gb(props.get("metadata"))
        elif kind == FLOATING_IP:
            public_ips += 1
        elif kind == SECGROUP_RULE and props.get("direction") == "ingress":
            ingress.append(_ingress(name, props))
    servers = [c for c in computes if c.kind == "server"]
    sized = [(c, flavor(c.flavor)) for c in computes if c.flavor and is_known_flavor(c.flavor)]
    sums = Totals(
        vcpu=sum(f.vcpu * c.count for c, f in sized),
        ram_gb=sum(f.ram_gb * c.count for c, f in sized),
        volume_gb=sum((d.size_gb or 0) * d.count for d in disks),
        object_gb=object_gb,
        servers=sum(c.count for c in servers),
        database_instances=sum(1 for c in computes if c.kind == "database"),
        public_ips=public_ips,
        world_open_rules=sum(1 for i in ingress if i.remote_cidr in ("0.0.0.0/0", "::/0")),
    )
    return StackFacts(context, tuple(computes), tuple(disks), tuple(ingress), sums)


def with_held(facts: StackFacts, held: Sequence[Holding]) -> StackFacts:
    """The same facts with another account of what the unit already holds."""
    ctx = facts.context
    return replace(facts, context=replace(ctx, held=tuple(h for h in held if (h.app, h.env) != (ctx.app, ctx.env))))


def _ingress(name: str, props: Mapping[str, Any]) -> Ingress:
    given = props.get("protocol")
    protocol = given if isinstance(given, str) else "any"
    remote = props.get("remoteIpPrefix")
    group = props.get("remoteGroupId")
    if remote is None and group is None:  # Neutron: no remote at all means every address
        remote = "::/0" if props.get("ethertype") == "IPv6" else "0.0.0.0/0"
    return Ingress(
        name,
        protocol,
        _int(props.get("portRangeMin")),
        _int(props.get("portRangeMax")),
        remote if isinstance(remote, str) else None,
        "unknown" if group is UNKNOWN else (group if isinstance(group, str) else None),
    )


def _flavor_name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _str(value: Any) -> Any:
    """A string, ``None`` when absent, :data:`UNKNOWN` when Pulumi does not know it yet."""
    if value is UNKNOWN:
        return UNKNOWN
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is UNKNOWN or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _quota_gb(metadata: Any) -> int:
    """A Swift container's ``Quota-Bytes`` metadata in GiB, rounded up."""
    if not isinstance(metadata, Mapping):
        return 0
    for key, value in metadata.items():
        if isinstance(key, str) and key.lower() == "quota-bytes":
            size = _int(value)
            return math.ceil(size / GIB) if size else 0
    return 0
