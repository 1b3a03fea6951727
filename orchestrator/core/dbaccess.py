"""Who may reach an application's databases: only its own network. Pure.

A Trove instance gets a port on the application's network inside a security group Trove makes
and owns (``trove_sg-<instance id>``, in Trove's project): nothing in the application's project
shows it, and by default it opens the engine's port to ``0.0.0.0/0``. The manifest allows its
databases to be reached by its own servers, which sit on the environment's one subnet, and by
nothing else (the ``database-ports-closed`` quota rule keeps those ports out of its security
groups too). Trove's per-instance ``access.allowed_cidrs`` narrows the group to that subnet; the
pinned pulumi-openstack ``database.Instance`` cannot set it, so ``govcloud up`` sets it through
Trove's API after the engine ran, and ``govcloud database-access`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core import naming, sizing
from orchestrator.core.manifest import Application, Environment

#: The port each engine listens on (Trove's ``tcp_ports`` of the datastore).
PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432}


@dataclass(frozen=True)
class Access:
    """Who may reach one database instance: ``port`` (tcp) from ``cidrs`` only."""

    instance: str  #: the Trove instance's name (``<app>-<database>``)
    engine: str
    port: int
    cidrs: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"instance": self.instance, "engine": self.engine, "port": self.port, "from": list(self.cidrs)}


@dataclass(frozen=True)
class Observed:
    """One instance as the cloud has it: Trove's access setting and its group's ingress rules
    as ``(protocol, port_min, port_max, remote_cidr)``."""

    instance: str
    id: str
    allowed_cidrs: tuple[str, ...]
    ingress: tuple[tuple[str, int | None, int | None, str | None], ...]


def expected(app: Application, env: Environment) -> list[Access]:
    """Every database of ``env`` of ``app``: its port from the environment's subnet only."""
    resources = app.environments[env].resources
    subnet = sizing.subnet_cidr(env, sizing.quotas(resources).network["port"])
    return [
        Access(naming.resource_name(app.id, db.name), db.engine, PORTS[db.engine], (subnet,))
        for db in resources.databases
    ]


def differences(wanted: list[Access], found: list[Observed]) -> list[str]:
    """What differs, one sentence each: a missing instance, a wrong access setting, an ingress
    rule that lets in more than ``wanted`` (any rule from elsewhere, or on another port)."""
    by_name = {o.instance: o for o in found}
    out = []
    for access in wanted:
        seen = by_name.get(access.instance)
        if seen is None:
            out.append(f"database {access.instance}: not found in Trove")
            continue
        if sorted(seen.allowed_cidrs) != sorted(access.cidrs):
            out.append(
                f"database {access.instance}: Trove access allows {list(seen.allowed_cidrs) or 'anyone'}, "
                f"the manifest {list(access.cidrs)}"
            )
        allowed = {("tcp", access.port, access.port, c) for c in access.cidrs}
        for rule in seen.ingress:
            if rule not in allowed:
                protocol, low, high, remote = rule
                ports = "all ports" if low is None else f"{low}-{high}" if low != high else str(low)
                out.append(
                    f"database {access.instance}: its security group lets in {protocol} {ports} "
                    f"from {remote or 'anywhere'}"
                )
        if not seen.ingress:
            out.append(f"database {access.instance}: its security group lets nobody in")
    return out
